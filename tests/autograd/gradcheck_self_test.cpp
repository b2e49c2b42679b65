// gradcheck itself: it must catch a wrong backward (and say where), accept a right one, and handle
// outputs that do not depend on some input.
#include <string>
#include <vector>

#include "autograd_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

// y = x, but the backward claims dy/dx = 2.
Variable wrong_identity(const Variable& x) {
  return record("wrong_identity", x.value().clone(), {x},
                [](const Tensor& gy, GradSlots& dx) { dx[0] += gy * 2.0; });
}

// y = x, with a backward that is right everywhere except at element (1, 2) of a [2, 3] input.
Variable wrong_at_one_element(const Variable& x) {
  return record("wrong_at_one_element", x.value().clone(), {x},
                [](const Tensor& gy, GradSlots& dx) {
                  dx[0] += gy * f64({1, 1, 1, 1, 1, 1.5}, {2, 3});
                });
}

// y = a * b, with the gradient of b forgotten.
Variable forgets_second_input(const Variable& a, const Variable& b) {
  const Tensor av = a.value(), bv = b.value();
  return record("forgets_second_input", av * bv, {a, b},
                [bv](const Tensor& gy, GradSlots& dx) { dx[0] += gy * bv; });
}

}  // namespace

TEST_CASE("gradcheck: a deliberately wrong backward fails and the report says where") {
  Generator gen(61);
  const auto r = gradcheck([](const std::vector<Variable>& v) { return wrong_identity(v[0]); },
                           {normal64({2, 3}, gen)});
  CHECK_FALSE(r.ok);
  CHECK_FALSE(static_cast<bool>(r));
  CHECK(r.max_abs_error == doctest::Approx(1.0).epsilon(1e-4));  // analytic 2, numeric 1
  INFO(r.report);
  CHECK(r.report.find("gradcheck failed") != std::string::npos);
  CHECK(r.report.find("input 0") != std::string::npos);
  CHECK(r.report.find("analytic 2") != std::string::npos);
  CHECK(r.report.find("numeric 1") != std::string::npos);
  CHECK(r.report.find("[2, 3]") != std::string::npos);
}

TEST_CASE("gradcheck: an error at a single element is located") {
  Generator gen(62);
  const auto r =
      gradcheck([](const std::vector<Variable>& v) { return wrong_at_one_element(v[0]); },
                {normal64({2, 3}, gen)});
  CHECK_FALSE(r.ok);
  INFO(r.report);
  // d output(1, 2) / d input 0(1, 2): analytic 1.5, numeric 1.
  CHECK(r.report.find("output(1, 2)") != std::string::npos);
  CHECK(r.report.find("input 0(1, 2)") != std::string::npos);
  CHECK(r.max_abs_error == doctest::Approx(0.5).epsilon(1e-4));
}

TEST_CASE("gradcheck: a missing gradient for the second input is reported for input 1") {
  Generator gen(63);
  const auto r =
      gradcheck([](const std::vector<Variable>& v) { return forgets_second_input(v[0], v[1]); },
                {normal64({3}, gen), uniform64({3}, 1.0, 2.0, gen)});
  CHECK_FALSE(r.ok);
  INFO(r.report);
  CHECK(r.report.find("input 1") != std::string::npos);
  CHECK(r.report.find("analytic 0") != std::string::npos);
}

TEST_CASE("gradcheck: a right backward passes with an empty report") {
  Generator gen(64);
  const auto r = gradcheck(
      [](const std::vector<Variable>& v) {
        const Tensor xv = v[0].value();
        return record("square", xv * xv, {v[0]},
                      [xv](const Tensor& gy, GradSlots& dx) { dx[0] += gy * xv * 2.0; }, {xv});
      },
      {normal64({2, 2}, gen)});
  CHECK_MESSAGE(r.ok, r.report);
  CHECK(static_cast<bool>(r));
  CHECK(r.report.empty());
  CHECK(r.max_abs_error < 1e-6);
}

TEST_CASE("gradcheck: outputs independent of an input, and constant outputs") {
  Generator gen(65);
  SUBCASE("the second input is unused") {
    const auto r = gradcheck([](const std::vector<Variable>& v) { return tanh(v[0]); },
                             {normal64({2}, gen), normal64({3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("the output does not depend on any input") {
    const auto r =
        gradcheck([](const std::vector<Variable>&) { return Variable(ones({2}, kFloat64)); },
                  {normal64({2}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("a wrong backward on an unused path does not matter") {
    const auto r =
        gradcheck([](const std::vector<Variable>& v) { return wrong_identity(v[0]) * 0.0 + v[1]; },
                  {normal64({2}, gen), normal64({2}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: the tolerances are honoured") {
  // The error of wrong_identity is exactly 1: a tolerance above it passes, one below fails.
  Generator gen(66);
  const Tensor x = normal64({2}, gen);
  const auto fn = [](const std::vector<Variable>& v) { return wrong_identity(v[0]); };
  GradcheckOptions loose;
  loose.atol = 1.5;
  CHECK(gradcheck(fn, {x}, loose).ok);
  GradcheckOptions relative;
  relative.atol = 0.0;
  relative.rtol = 1.01;  // |2 - 1| <= 1.01 * |1|
  CHECK(gradcheck(fn, {x}, relative).ok);
  relative.rtol = 0.99;
  CHECK_FALSE(gradcheck(fn, {x}, relative).ok);
}

TEST_CASE("gradcheck: does not modify the caller's inputs and leaves grad mode on") {
  Generator gen(67);
  const Tensor x = normal64({3}, gen);
  const std::vector<double> before = x.to_vector<double>();
  const auto r = gradcheck([](const std::vector<Variable>& v) { return exp(v[0]); }, {x});
  CHECK_MESSAGE(r.ok, r.report);
  CHECK(x.to_vector<double>() == before);
  CHECK(GradMode::is_enabled());
}

TEST_CASE("gradcheck: a non-contiguous input is accepted") {
  Generator gen(68);
  const Tensor x = normal64({3, 2}, gen).t();
  const auto r =
      gradcheck([](const std::vector<Variable>& v) { return sigmoid(v[0]) * v[0]; }, {x});
  CHECK_MESSAGE(r.ok, r.report);
}
