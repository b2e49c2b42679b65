// The vectorisable float32 exp/tanh/sigmoid against the C library's double-precision functions.
#include <cmath>

#include "helpers.h"
#include "tensor/vecmath.h"

using namespace seqgrad;

namespace {
// Largest relative error over a dense sweep of [lo, hi] (absolute below `floor`).
template <class F, class G>
double worst_error(F fast, G exact, double lo, double hi, double floor) {
  double worst = 0;
  const int n = 200000;
  for (int i = 0; i <= n; ++i) {
    const float x = static_cast<float>(lo + (hi - lo) * i / n);
    const double want = exact(static_cast<double>(x));
    const double err = std::abs(fast(x) - want) / std::max(std::abs(want), floor);
    worst = std::max(worst, err);
  }
  return worst;
}
}  // namespace

TEST_CASE("vecmath::exp is within 3 float ulp of exp over its whole range") {
  // Through lambdas: the functions are always inlined, so they are not called through pointers.
  CHECK(worst_error([](float x) { return vecmath::exp(x); }, [](double x) { return std::exp(x); },
                    -87.0, 88.0, 1e-300) < 3 * 6e-8);
  CHECK(vecmath::exp(0.0f) == 1.0f);
  CHECK(vecmath::exp(-200.0f) == 0.0f);
  CHECK(std::isinf(vecmath::exp(200.0f)));
  CHECK(std::isnan(vecmath::exp(NAN)));
}

TEST_CASE("vecmath::tanh is within 3 float ulp of tanh, including tiny and huge inputs") {
  const auto fast = [](float x) { return vecmath::tanh(x); };
  CHECK(worst_error(
            fast, [](double x) { return std::tanh(x); }, -10.0, 10.0, 1e-30) < 3 * 6e-8);
  CHECK(worst_error(
            fast, [](double x) { return std::tanh(x); }, -1e-3, 1e-3, 1e-30) < 3 * 6e-8);
  CHECK(vecmath::tanh(0.0f) == 0.0f);
  CHECK(vecmath::tanh(100.0f) == 1.0f);
  CHECK(vecmath::tanh(-100.0f) == -1.0f);
  CHECK(std::isnan(vecmath::tanh(NAN)));
}

TEST_CASE("vecmath::sigmoid is within 4 float ulp of the logistic function") {
  auto exact = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  CHECK(worst_error([](float x) { return vecmath::sigmoid(x); }, exact, -80.0, 30.0, 1e-300) <
        4 * 6e-8);
  CHECK(vecmath::sigmoid(-200.0f) == 0.0f);
  CHECK(vecmath::sigmoid(200.0f) == 1.0f);
}
