// Gradient clipping beyond the PyTorch fixtures: parameters without gradients, no-op cases,
// float32, and argument errors.
#include <cmath>
#include <limits>

#include "optim/all.h"
#include "optim_fixture.h"

using namespace seqgrad;
using namespace seqgrad::testing;

TEST_CASE("clip_grad_norm_: ignores parameters without gradients; 0 when there are none") {
  const auto params = fixture_params();
  CHECK(optim::clip_grad_norm_(params, 1.0) == 0.0);
  params[1].set_grad(tensor({3.0, 0.0, -4.0, 0.0}, {4}, kFloat64));
  const double total = optim::clip_grad_norm_(params, 1.0);
  CHECK(total == doctest::Approx(5.0));
  CHECK_FALSE(params[0].grad().defined());
  expect_close(values(params[1].grad()), {3.0 / (5 + 1e-6), 0.0, -4.0 / (5 + 1e-6), 0.0});
}

TEST_CASE("clip_grad_norm_: a norm within max_norm leaves the gradients untouched") {
  const auto params = fixture_params();
  set_fixture_grads(params, "default", 0);
  const auto g0 = values(params[0].grad());
  const auto version = params[0].grad().version();
  const double total = optim::clip_grad_norm_(params, 1e6, 2.0);
  CHECK(total > 0.0);
  CHECK(values(params[0].grad()) == g0);
  CHECK(params[0].grad().version() == version);
  // Infinity norm: the largest magnitude.
  const Variable p(zeros({3}, kFloat64), true);
  p.set_grad(tensor({0.5, -2.5, 1.0}, {3}, kFloat64));
  CHECK(optim::clip_grad_norm_({p}, 1.0, std::numeric_limits<double>::infinity()) == 2.5);
  expect_close(values(p.grad()), {0.5 / (2.5 + 1e-6), -2.5 / (2.5 + 1e-6), 1.0 / (2.5 + 1e-6)});
}

TEST_CASE("clip_grad_norm_ and clip_grad_value_ work on float32 gradients") {
  const Variable p(zeros({2}, kFloat32), true);
  p.set_grad(tensor({3.0, 4.0}, {2}));
  CHECK(optim::clip_grad_norm_({p}, 2.5) == doctest::Approx(5.0));
  expect_close(values(p.grad()), {1.5, 2.0}, 1e-6);
  optim::clip_grad_value_({p}, 1.75);
  expect_close(values(p.grad()), {1.5, 1.75}, 1e-6);
  CHECK(p.grad().dtype() == kFloat32);
}

TEST_CASE("clip_grad_value_: clamps in place and skips parameters without gradients") {
  const Variable a(zeros({4}, kFloat64), true), b(zeros({2}, kFloat64), true);
  a.set_grad(tensor({-3.0, -0.5, 0.25, 9.0}, {4}, kFloat64));
  const auto version = a.grad().version();
  optim::clip_grad_value_({a, b}, 1.0);
  CHECK(values(a.grad()) == std::vector<double>{-1.0, -0.5, 0.25, 1.0});
  CHECK(a.grad().version() > version);
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("clip: invalid arguments are rejected with their value") {
  const auto params = fixture_params();
  set_fixture_grads(params, "default", 0);
  CHECK_THROWS_WITH_AS(optim::clip_grad_norm_(params, 1.0, 0.0),
                       doctest::Contains("norm_type must be > 0 or infinity, got 0"), Error);
  CHECK_THROWS_WITH_AS(optim::clip_grad_norm_(params, -1.0),
                       doctest::Contains("max_norm must be >= 0, got -1"), Error);
  CHECK_THROWS_WITH_AS(optim::clip_grad_value_(params, -0.5),
                       doctest::Contains("clip_value must be >= 0, got -0.5"), Error);
}
