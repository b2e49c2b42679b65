// Anomaly mode: the first NaN or Inf in forward or backward is an Error naming the op and where it
// was recorded; without it, non-finite values flow through silently (as in PyTorch).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "autograd/all.h"

using namespace seqgrad;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("anomaly: a NaN made in forward names the op and the element") {
  const Variable x(from_vector(std::vector<float>{1.0f, -1.0f}, {2}), true);
  {
    DetectAnomalyGuard on;
    const std::string e = error_of([&] { (void)log(x * 2.0); });
    CHECK(e.find("anomaly: the forward of 'log' produced") != std::string::npos);
    CHECK(e.find("nan at element 1") != std::string::npos);
    CHECK(e.find("shape [2]") != std::string::npos);
    CHECK(e.find("recorded as op #") != std::string::npos);
  }
  // Off again: log(-2) is NaN and nothing complains.
  CHECK(std::isnan(log(x * 2.0).value().to_vector<float>()[1]));
}

TEST_CASE("anomaly: an infinite gradient made in backward names the op") {
  // sqrt at 0 is finite (0) but its derivative 1 / (2 sqrt x) is infinite.
  const Variable x(from_vector(std::vector<float>{4.0f, 0.0f}, {2}), true);
  DetectAnomalyGuard on;
  const Variable y = sum(sqrt(x));
  const std::string e = error_of([&] { y.backward(); });
  CHECK(e.find("anomaly: the backward of 'sqrt' produced inf at element 1") != std::string::npos);
  CHECK(e.find("for its input 0") != std::string::npos);
  CHECK(e.find("recorded as op #") != std::string::npos);
}

TEST_CASE("anomaly: finite graphs pass unchanged, and the mode nests") {
  const Variable x(from_vector(std::vector<float>{1.0f, 2.0f}, {2}), true);
  {
    DetectAnomalyGuard on;
    CHECK(AnomalyMode::is_enabled());
    {
      DetectAnomalyGuard off(false);
      CHECK_FALSE(AnomalyMode::is_enabled());
    }
    CHECK(AnomalyMode::is_enabled());
    sum(exp(x) * x).backward();
  }
  CHECK_FALSE(AnomalyMode::is_enabled());
  // d/dx (x e^x) = (1 + x) e^x
  const auto g = x.grad().to_vector<float>();
  CHECK(g[0] == doctest::Approx(2 * std::exp(1.0)));
  CHECK(g[1] == doctest::Approx(3 * std::exp(2.0)));
}
