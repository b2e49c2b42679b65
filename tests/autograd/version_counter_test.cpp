// Version counters: modifying in place a tensor that a node saved for its backward, between the
// forward and backward(), makes backward() throw naming the op (PyTorch's behaviour) instead of
// silently computing a wrong gradient. Modifying after backward(), or modifying what no node
// saved, is fine.
#include <string>
#include <vector>

#include "autograd_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {
Variable versioned_leaf(const std::vector<double>& values, const Dims& shape) {
  return Variable(f64(values, shape), /*requires_grad=*/true);
}
}  // namespace

TEST_CASE("version: modifying tanh's saved output before backward throws naming tanh") {
  const Variable x = versioned_leaf({0.1, 0.2, 0.3}, {3});
  const Variable y = tanh(x);
  y.value().add_(1.0);
  CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("'tanh'"), Error);
  CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("modified in place"), Error);
  CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("version 0 when saved, 1 now"), Error);
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("version: modifying an input that mul saved throws naming mul") {
  const Variable x = versioned_leaf({1, 2, 3}, {3});
  const Variable w = versioned_leaf({4, 5, 6}, {3});
  const Variable y = x * w;
  SUBCASE("through the tensor") { x.value().mul_(2.0); }
  SUBCASE("through the Variable, under NoGradGuard (as an optimiser would)") {
    NoGradGuard no_grad;
    w.add_(f64({1, 1, 1}, {3}));
  }
  SUBCASE("through a view of the storage") { x.value().select(0, 1).fill_(0.0); }
  SUBCASE("through a detached alias") {
    NoGradGuard no_grad;
    w.detach().mul_(0.5);
  }
  CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("'mul'"), Error);
}

TEST_CASE("version: every op that saves a tensor detects its modification") {
  struct Case {
    const char* name;
    Variable (*fn)(const Variable&);
  };
  const std::vector<Case> cases = {
      {"abs", [](const Variable& x) { return abs(x); }},
      {"exp", [](const Variable& x) { return exp(x); }},
      {"log", [](const Variable& x) { return log(x); }},
      {"sqrt", [](const Variable& x) { return sqrt(x); }},
      {"tanh", [](const Variable& x) { return tanh(x); }},
      {"sigmoid", [](const Variable& x) { return sigmoid(x); }},
      {"relu", [](const Variable& x) { return relu(x); }},
      {"pow", [](const Variable& x) { return pow(x, 3.0); }},
      {"clamp", [](const Variable& x) { return clamp(x, 0.0, 1.0); }},
      {"rdiv", [](const Variable& x) { return 1.0 / x; }},
      {"amax", [](const Variable& x) { return amax(x, {0}); }},
      {"logsumexp", [](const Variable& x) { return logsumexp(x, {0}); }},
      {"softmax", [](const Variable& x) { return softmax(x, 0); }},
      {"log_softmax", [](const Variable& x) { return log_softmax(x, 0); }},
  };
  for (const Case& c : cases) {
    INFO(std::string(c.name));
    const Variable x = versioned_leaf({0.5, 1.5, 2.5}, {3});
    const Variable y = c.fn(x);
    // The op saved its input, its output, or both: change both.
    x.value().add_(0.25);
    y.value().add_(0.25);
    const std::string quoted = fmt::format("'{}'", c.name);
    CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains(quoted.c_str()), Error);
  }
}

TEST_CASE("version: binary ops that save their operands") {
  const Variable a = versioned_leaf({1, 2}, {2});
  const Variable b = versioned_leaf({3, 4}, {2});
  SUBCASE("div (saves b and the output)") {
    const Variable y = a / b;
    b.value().add_(1.0);
    CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("'div'"), Error);
  }
  SUBCASE("maximum") {
    const Variable y = maximum(a, b);
    a.value().add_(1.0);
    CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("'maximum'"), Error);
  }
  SUBCASE("matmul") {
    const Variable m = versioned_leaf({1, 2, 3, 4}, {2, 2});
    const Variable y = matmul(m, b);
    b.value().mul_(2.0);
    CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("'matmul'"), Error);
  }
}

TEST_CASE("version: modifying after backward is fine") {
  const Variable x = versioned_leaf({0.0, 0.5}, {2});
  const Variable y = tanh(x);
  sum(y).backward();
  y.value().add_(1.0);  // no longer needed by anything
  x.value().add_(1.0);
  expect_values(x.grad(), {2}, {1.0, 0.7864477329659274});  // 1 - tanh(0.5)^2
}

TEST_CASE("version: modifying between two backward passes of a retained graph") {
  const Variable x = versioned_leaf({1, 2}, {2});
  const Variable y = exp(x);
  sum(y).backward({}, /*retain_graph=*/true);
  y.value().mul_(2.0);
  CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("'exp'"), Error);
}

TEST_CASE("version: ops that save nothing are unaffected by modification of their inputs") {
  // add's gradient does not depend on the values, so nothing was saved and nothing can go stale.
  const Variable x = versioned_leaf({1, 2}, {2});
  const Variable w = versioned_leaf({3, 4}, {2});
  const Variable y = x + w;
  x.value().add_(10.0);
  sum(y * 2.0).backward();
  expect_values(x.grad(), {2}, {2, 2});
  expect_values(w.grad(), {2}, {2, 2});
}

TEST_CASE("version: the saved index of index_select and gather is guarded too") {
  const Variable x = versioned_leaf({1, 2, 3}, {3});
  const Tensor index = i64({2, 0}, {2});
  const Variable y = index_select(x, 0, index);
  index.fill_(1.0);
  CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("'index_select'"), Error);
}
