// Misuse of the autograd layer throws seqgrad::Error with a message that names the op and the
// offending shapes, dims or dtypes.
#include <vector>

#include "autograd_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;
using doctest::Contains;

namespace {
Variable var(const Dims& shape) { return Variable(zeros(shape, kFloat64), /*requires_grad=*/true); }
}  // namespace

TEST_CASE("errors: broadcast mismatch in binary ops of Variables") {
  const Variable a = var({2, 3});
  const Variable b = var({4});
  CHECK_THROWS_WITH_AS(a + b, Contains("add"), Error);
  CHECK_THROWS_WITH_AS(add(a, b), Contains("[2, 3] and [4]"), Error);
  CHECK_THROWS_WITH_AS(a - b, Contains("sub"), Error);
  CHECK_THROWS_WITH_AS(a * b, Contains("mul"), Error);
  CHECK_THROWS_WITH_AS(a / b, Contains("div"), Error);
  CHECK_THROWS_WITH_AS(maximum(a, b), Contains("maximum"), Error);
  CHECK_THROWS_WITH_AS(minimum(a, b), Contains("[2, 3] and [4]"), Error);
  CHECK_THROWS_WITH_AS(where(gt(zeros({5}, kFloat64), 0.0), a, a), Contains("where"), Error);
  CHECK_THROWS_WITH_AS(masked_fill(a, gt(zeros({4}, kFloat64), 0.0), 1.0), Contains("masked_fill"),
                       Error);
}

TEST_CASE("errors: dtype mismatch in binary ops of Variables") {
  const Variable a = var({2});
  const Variable b(zeros({2}, kFloat32), true);
  CHECK_THROWS_WITH_AS(a + b, Contains("float32"), Error);
}

TEST_CASE("errors: matrix product shape mismatches") {
  CHECK_THROWS_WITH_AS(matmul(var({2, 3}), var({4, 5})), Contains("matmul"), Error);
  CHECK_THROWS_WITH_AS(matmul(var({2, 3}), var({4, 5})), Contains("[2, 3] and [4, 5]"), Error);
  CHECK_THROWS_WITH_AS(matmul(var({3}), var({4})), Contains("matmul"), Error);
  CHECK_THROWS_WITH_AS(matmul(var({3}), var({4})), Contains("[3] and [4]"), Error);
  CHECK_THROWS_WITH_AS(matmul(var({3}), var({4, 2})), Contains("matmul"), Error);
  CHECK_THROWS_WITH_AS(matmul(var({2, 3}), var({4})), Contains("matmul"), Error);
  CHECK_THROWS_WITH_AS(matmul(var({2, 2, 3}), var({3, 3, 4})), Contains("matmul"), Error);
  CHECK_THROWS_WITH_AS(matmul(var({}), var({3})), Contains("matmul"), Error);
  CHECK_THROWS_WITH_AS(mm(var({2, 3, 4}), var({4, 5})), Contains("mm"), Error);
  CHECK_THROWS_WITH_AS(mm(var({2, 3}), var({4, 5})), Contains("[2, 3] and [4, 5]"), Error);
  CHECK_THROWS_WITH_AS(mm(var({2, 3}), var({4, 5})), Contains("mm:"), Error);
  CHECK_THROWS_WITH_AS(bmm(var({2, 3}), var({3, 4})), Contains("bmm"), Error);
  CHECK_THROWS_WITH_AS(bmm(var({2, 3, 4}), var({3, 4, 5})), Contains("[2, 3, 4] and [3, 4, 5]"),
                       Error);
  CHECK_THROWS_WITH_AS(bmm(var({2, 3, 4}), var({2, 5, 6})), Contains("bmm"), Error);
}

TEST_CASE("errors: out-of-range dims in reductions, normalisations and views") {
  const Variable x = var({2, 3});
  CHECK_THROWS_WITH_AS(sum(x, {2}), Contains("sum"), Error);
  CHECK_THROWS_WITH_AS(sum(x, {2}), Contains("dim 2"), Error);
  CHECK_THROWS_WITH_AS(sum(x, {-3}), Contains("sum"), Error);
  CHECK_THROWS_WITH_AS(sum(x, {0, 0}), Contains("more than once"), Error);
  CHECK_THROWS_WITH_AS(mean(x, {5}), Contains("mean"), Error);
  CHECK_THROWS_WITH_AS(amax(x, {5}), Contains("amax"), Error);
  CHECK_THROWS_WITH_AS(logsumexp(x, {5}), Contains("logsumexp"), Error);
  CHECK_THROWS_WITH_AS(max(x, 2), Contains("max"), Error);
  CHECK_THROWS_WITH_AS(min(x, -3), Contains("min"), Error);
  CHECK_THROWS_WITH_AS(softmax(x, 2), Contains("softmax"), Error);
  CHECK_THROWS_WITH_AS(softmax(x, 2), Contains("rank 2"), Error);
  CHECK_THROWS_WITH_AS(log_softmax(x, -3), Contains("log_softmax"), Error);
  CHECK_THROWS_WITH_AS(transpose(x, 0, 2), Contains("transpose"), Error);
  CHECK_THROWS_WITH_AS(x.transpose(-3, 1), Contains("transpose"), Error);
  CHECK_THROWS_WITH_AS(x.permute({0, 0}), Contains("permute"), Error);
  CHECK_THROWS_WITH_AS(x.permute({0}), Contains("permute"), Error);
  CHECK_THROWS_WITH_AS(x.select(2, 0), Contains("select"), Error);
  CHECK_THROWS_WITH_AS(x.unsqueeze(4), Contains("unsqueeze"), Error);
  CHECK_THROWS_WITH_AS(x.squeeze(3), Contains("squeeze"), Error);
  CHECK_THROWS_WITH_AS(cat({x, x}, 2), Contains("cat"), Error);
  CHECK_THROWS_WITH_AS(stack({x, x}, 3), Contains("stack"), Error);
  CHECK_THROWS_WITH_AS(split(x, 1, 2), Contains("split"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 2, i64({0}, {1})), Contains("index_select"), Error);
  CHECK_THROWS_WITH_AS(gather(x, 2, i64({0, 0, 0, 0, 0, 0}, {2, 3})), Contains("gather"), Error);
}

TEST_CASE("errors: views with bad sizes or indices") {
  const Variable x = var({2, 3});
  CHECK_THROWS_WITH_AS(x.view({4, 2}), Contains("[4, 2]"), Error);
  CHECK_THROWS_WITH_AS(x.view({4, 2}), Contains("[2, 3]"), Error);
  CHECK_THROWS_WITH_AS(x.t().view({6}), Contains("view"), Error);  // not viewable: use reshape
  CHECK_THROWS_WITH_AS(x.reshape({5}), Contains("reshape"), Error);
  CHECK_THROWS_WITH_AS(x.narrow(1, 2, 2), Contains("narrow"), Error);
  CHECK_THROWS_WITH_AS(x.slice(0, 0, 2, 0), Contains("step"), Error);
  CHECK_THROWS_WITH_AS(x.select(0, 2), Contains("index 2"), Error);
  CHECK_THROWS_WITH_AS(x.expand({2, 4}), Contains("expand"), Error);
  CHECK_THROWS_WITH_AS(var({2, 3, 4}).t(), Contains("[2, 3, 4]"), Error);
}

TEST_CASE("errors: joining and indexing") {
  CHECK_THROWS_WITH_AS(cat({var({2, 3}), var({2, 4})}, 0), Contains("cat"), Error);
  CHECK_THROWS_WITH_AS(cat({var({2, 3}), Variable()}, 0), Contains("undefined"), Error);
  CHECK_THROWS_WITH_AS(cat(std::vector<Variable>{}, 0), Contains("cat"), Error);
  CHECK_THROWS_WITH_AS(stack({var({2, 3}), var({3, 2})}), Contains("[3, 2]"), Error);
  CHECK_THROWS_WITH_AS(stack(std::vector<Variable>{}), Contains("stack"), Error);
  CHECK_THROWS_WITH_AS(split(var({4}), 0), Contains("split_size"), Error);
  CHECK_THROWS_WITH_AS(chunk(var({4}), 0), Contains("chunk"), Error);
  CHECK_THROWS_WITH_AS(index_select(var({3}), 0, i64({3}, {1})), Contains("index_select"), Error);
  CHECK_THROWS_WITH_AS(index_select(var({3}), 0, f64({0}, {1})), Contains("int64"), Error);
  CHECK_THROWS_WITH_AS(gather(var({3}), 0, i64({5}, {1})), Contains("gather"), Error);
  CHECK_THROWS_WITH_AS(gather(var({2, 3}), 0, i64({0}, {1})), Contains("gather"), Error);
}

TEST_CASE("errors: gradcheck rejects inputs that are not float64") {
  const auto fn = [](const std::vector<Variable>& v) { return v[0] * 2.0; };
  CHECK_THROWS_WITH_AS(gradcheck(fn, {zeros({2}, kFloat32)}), Contains("gradcheck"), Error);
  CHECK_THROWS_WITH_AS(gradcheck(fn, {zeros({2}, kFloat32)}), Contains("float32"), Error);
  CHECK_THROWS_WITH_AS(gradcheck(fn, {zeros({2}, kFloat64), zeros({2}, kInt64)}),
                       Contains("input 1"), Error);
  CHECK_THROWS_WITH_AS(gradcheck(fn, {}), Contains("gradcheck"), Error);
  CHECK_THROWS_WITH_AS(gradcheck(fn, {Tensor()}), Contains("gradcheck"), Error);
  CHECK_THROWS_WITH_AS(gradcheck([](const std::vector<Variable>& v) { return v[0].to(kFloat32); },
                                 {zeros({2}, kFloat64)}),
                       Contains("float64"), Error);
}

TEST_CASE("errors: only floating-point Variables can require grad") {
  CHECK_THROWS_WITH_AS(Variable(zeros({2}, kInt64), true), Contains("Variable"), Error);
  CHECK_THROWS_WITH_AS(Variable(zeros({2}, kInt64), true), Contains("int64"), Error);
  CHECK_THROWS_WITH_AS(Variable(zeros({2}, kBool), true), Contains("bool"), Error);
  Variable i(zeros({2}, kInt64));  // fine without grad
  CHECK_FALSE(i.requires_grad());
  CHECK_THROWS_WITH_AS(i.requires_grad_(), Contains("int64"), Error);
  CHECK_THROWS_WITH_AS(Variable{Tensor{}}, Contains("Variable"), Error);
}

TEST_CASE("errors: undefined variables and bad gradients") {
  const Variable u;
  CHECK_FALSE(u.defined());
  CHECK_THROWS_WITH_AS(u.value(), Contains("undefined"), Error);
  CHECK_THROWS_WITH_AS(u.backward(), Contains("undefined"), Error);
  CHECK_THROWS_WITH_AS(u.fill_(0.0), Contains("undefined"), Error);
  CHECK_THROWS_WITH_AS(to_dot(u), Contains("to_dot"), Error);
  const Variable x = var({2, 3});
  CHECK_THROWS_WITH_AS(x.set_grad(zeros({3, 2}, kFloat64)), Contains("set_grad"), Error);
  CHECK_THROWS_WITH_AS(x.set_grad(zeros({2, 3}, kFloat32)), Contains("float32"), Error);
  x.set_grad(ones({2, 3}, kFloat64));
  expect_values(x.grad(), {2, 3}, {1, 1, 1, 1, 1, 1});
  x.set_grad(Tensor());
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("errors: floating-only ops reject integer Variables") {
  const Variable i(zeros({2}, kInt64));
  CHECK_THROWS_WITH_AS(exp(i), Contains("exp"), Error);
  CHECK_THROWS_WITH_AS(softmax(i, 0), Contains("softmax"), Error);
  CHECK_THROWS_WITH_AS(mean(i), Contains("mean"), Error);
}
