// Every misuse throws seqgrad::Error with a message that names the operation (and the offending
// shapes, dtypes or values).
#include <stdexcept>
#include <string>

#include "helpers.h"

using namespace seqgrad;

namespace {
// The message of the Error that f throws ("" if it throws nothing).
template <class F>
std::string message_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("errors: Error is a std::runtime_error") {
  CHECK_THROWS_AS(tensor({1, 2}).item(), std::runtime_error);
  CHECK_THROWS_AS(fail("x {}", 1), Error);
  CHECK_THROWS_WITH_AS(fail("op: bad value {}", 42), "op: bad value 42", Error);
  CHECK_NOTHROW(check(true, "never {}", 1));
  CHECK_THROWS_WITH_AS(check(false, "op: {} and {}", "a", 2), "op: a and 2", Error);
}

TEST_CASE("errors: incompatible broadcast shapes name the op and both shapes") {
  Tensor a = zeros({2, 3}), b = zeros({4});
  const std::string m = message_of([&] { add(a, b); });
  CHECK(contains(m, "add"));
  CHECK(contains(m, "[2, 3]"));
  CHECK(contains(m, "[4]"));
  CHECK_THROWS_WITH_AS(a + b, doctest::Contains("add"), Error);
  CHECK_THROWS_WITH_AS(a - b, doctest::Contains("sub"), Error);
  CHECK_THROWS_WITH_AS(mul(a, zeros({3, 1})), doctest::Contains("mul"), Error);
  CHECK_THROWS_WITH_AS(div(a, b), doctest::Contains("div"), Error);
  CHECK_THROWS_WITH_AS(maximum(a, b), doctest::Contains("maximum"), Error);
  CHECK_THROWS_WITH_AS(minimum(a, b), doctest::Contains("minimum"), Error);
  CHECK_THROWS_WITH_AS(lt(a, b), doctest::Contains("lt"), Error);
  CHECK_THROWS_WITH_AS(where(zeros({2}, kBool), a, a), doctest::Contains("where"), Error);
  const std::string m2 = message_of([&] { eq(zeros({2, 1, 5}), zeros({3, 4})); });
  CHECK(contains(m2, "eq"));
  CHECK(contains(m2, "[2, 1, 5]"));
  CHECK(contains(m2, "[3, 4]"));
  CHECK_THROWS_WITH_AS(broadcast_shapes({2}, {3}, "myop"), doctest::Contains("myop"), Error);
  CHECK(broadcast_shapes({3, 1}, {1, 4}, "x") == Dims{3, 4});
  CHECK(broadcast_shapes({}, {2, 3}, "x") == Dims{2, 3});
  CHECK(broadcast_shapes({5, 1, 3}, {4, 1}, "x") == Dims{5, 4, 3});
}

TEST_CASE("errors: dtype mismatches") {
  Tensor f = zeros({2}), i = zeros({2}, kInt64), d = zeros({2}, kFloat64);
  const std::string m = message_of([&] { add(f, i); });
  CHECK(contains(m, "add"));
  CHECK(contains(m, "float32"));
  CHECK(contains(m, "int64"));
  CHECK_THROWS_WITH_AS(f * d, doctest::Contains("mul"), Error);
  CHECK_THROWS_WITH_AS(eq(f, i), doctest::Contains("eq"), Error);
  CHECK_THROWS_WITH_AS(matmul(f, d), doctest::Contains("matmul"), Error);
  CHECK_THROWS_WITH_AS(cat({f, d}), doctest::Contains("cat"), Error);
  CHECK_THROWS_WITH_AS(f.add_(d), doctest::Contains("add_"), Error);
  // Kernels that need a floating dtype, or a numeric one.
  CHECK_THROWS_WITH_AS(exp(i), doctest::Contains("exp"), Error);
  CHECK_THROWS_WITH_AS(log(i), doctest::Contains("log"), Error);
  CHECK_THROWS_WITH_AS(sigmoid(i), doctest::Contains("sigmoid"), Error);
  CHECK_THROWS_WITH_AS(pow(i, 2), doctest::Contains("pow"), Error);
  CHECK_THROWS_WITH_AS(div(i, i), doctest::Contains("div"), Error);
  CHECK_THROWS_WITH_AS(i / 2, doctest::Contains("div"), Error);
  CHECK_THROWS_WITH_AS(neg(zeros({2}, kBool)), doctest::Contains("neg"), Error);
  CHECK_THROWS_WITH_AS(add(zeros({2}, kBool), zeros({2}, kBool)), doctest::Contains("add"), Error);
  CHECK_THROWS_WITH_AS(linspace(0, 1, 3, kInt64), doctest::Contains("linspace"), Error);
  CHECK_THROWS_WITH_AS(softmax(i, 0), doctest::Contains("softmax"), Error);
  CHECK_THROWS_WITH_AS(f.data<double>(), doctest::Contains("data"), Error);
}

TEST_CASE("errors: out-of-range dims") {
  Tensor x = zeros({2, 3});
  const std::string m = message_of([&] { sum(x, {2}); });
  CHECK(contains(m, "sum"));
  CHECK(contains(m, "2"));
  CHECK_THROWS_WITH_AS(sum(x, {-3}), doctest::Contains("sum"), Error);
  CHECK_THROWS_WITH_AS(sum(x, {0, 0}), doctest::Contains("sum"), Error);
  CHECK_THROWS_WITH_AS(mean(x, {5}), doctest::Contains("mean"), Error);
  CHECK_THROWS_WITH_AS(amax(x, {2}), doctest::Contains("amax"), Error);
  CHECK_THROWS_WITH_AS(logsumexp(x, {2}), doctest::Contains("logsumexp"), Error);
  CHECK_THROWS_WITH_AS(softmax(x, 2), doctest::Contains("softmax"), Error);
  CHECK_THROWS_WITH_AS(log_softmax(x, -3), doctest::Contains("log_softmax"), Error);
  CHECK_THROWS_WITH_AS(max(x, 2), doctest::Contains("max"), Error);
  CHECK_THROWS_WITH_AS(argmin(x, 2), doctest::Contains("argmin"), Error);
  CHECK_THROWS_WITH_AS(x.transpose(0, 2), doctest::Contains("transpose"), Error);
  CHECK_THROWS_WITH_AS(x.select(2, 0), doctest::Contains("select"), Error);
  CHECK_THROWS_WITH_AS(x.narrow(-3, 0, 1), doctest::Contains("narrow"), Error);
  CHECK_THROWS_WITH_AS(x.slice(2, 0, 1), doctest::Contains("slice"), Error);
  CHECK_THROWS_WITH_AS(x.unsqueeze(3), doctest::Contains("unsqueeze"), Error);
  CHECK_THROWS_WITH_AS(x.unsqueeze(-4), doctest::Contains("unsqueeze"), Error);
  CHECK_THROWS_WITH_AS(x.squeeze(2), doctest::Contains("squeeze"), Error);
  CHECK_THROWS_WITH_AS(x.size(2), doctest::Contains("size"), Error);
  CHECK_THROWS_WITH_AS(x.permute({0, 2}), doctest::Contains("permute"), Error);
  CHECK_THROWS_WITH_AS(cat({x, x}, 2), doctest::Contains("cat"), Error);
  CHECK_THROWS_WITH_AS(split(x, 1, 2), doctest::Contains("split"), Error);
  CHECK_THROWS_WITH_AS(chunk(x, 2, 2), doctest::Contains("chunk"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 2, tensor({0}, {}, kInt64)),
                       doctest::Contains("index_select"), Error);
  CHECK_THROWS_WITH_AS(gather(x, 2, zeros({2, 3}, kInt64)), doctest::Contains("gather"), Error);
  CHECK_THROWS_WITH_AS(normalize_dim(3, 3, "myop"), doctest::Contains("myop"), Error);
  CHECK(normalize_dim(-1, 3, "x") == 2);
  CHECK(normalize_dim(0, 0, "x") == 0);  // a scalar accepts dim 0 / -1
}

TEST_CASE("errors: out-of-range indices") {
  Tensor x = zeros({2, 3});
  const std::string m = message_of([&] { x.select(0, 2); });
  CHECK(contains(m, "select"));
  CHECK(contains(m, "index 2"));
  CHECK_THROWS_WITH_AS(x.select(1, -4), doctest::Contains("select"), Error);
  CHECK_THROWS_WITH_AS(x.narrow(1, 2, 2), doctest::Contains("narrow"), Error);
  CHECK_THROWS_WITH_AS(x.narrow(0, 0, 3), doctest::Contains("narrow"), Error);
  CHECK_THROWS_WITH_AS(x.narrow(0, -3, 1), doctest::Contains("narrow"), Error);
  CHECK_THROWS_WITH_AS(x.narrow(0, 0, -1), doctest::Contains("narrow"), Error);
  CHECK_THROWS_WITH_AS(x.slice(0, 0, 2, 0), doctest::Contains("slice"), Error);
  const std::string mi = message_of([&] { index_select(x, 1, tensor({0, 3}, {}, kInt64)); });
  CHECK(contains(mi, "index_select"));
  CHECK(contains(mi, "3"));
  CHECK_THROWS_WITH_AS(index_select(x, 0, tensor({-1}, {}, kInt64)),
                       doctest::Contains("index_select"), Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, tensor({0, 3}, {2, 1}, kInt64)), doctest::Contains("gather"),
                       Error);
  CHECK_THROWS_WITH_AS(index_add_(x, 1, tensor({5}, {}, kInt64), zeros({2, 1})),
                       doctest::Contains("index_add_"), Error);
  CHECK_THROWS_WITH_AS(scatter_add_(x, 0, tensor({2}, {1, 1}, kInt64), zeros({1, 1})),
                       doctest::Contains("scatter_add_"), Error);
  CHECK_THROWS_WITH_AS(scalar_tensor(1).select(0, 0), doctest::Contains("select"), Error);
}

TEST_CASE("errors: matmul shape mismatches and int64 operands") {
  const std::string m = message_of([&] { matmul(zeros({2, 3}), zeros({2, 3})); });
  CHECK(contains(m, "matmul"));
  CHECK(contains(m, "[2, 3]"));
  CHECK_THROWS_WITH_AS(matmul(zeros({3}), zeros({2})), doctest::Contains("matmul"), Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({3}), zeros({2, 2})), doctest::Contains("matmul"), Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 2}), zeros({3})), doctest::Contains("matmul"), Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 2, 3}), zeros({2, 2, 3})), doctest::Contains("matmul"),
                       Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 2, 2}), zeros({3, 2, 2})), doctest::Contains("matmul"),
                       Error);
  CHECK_THROWS_WITH_AS(matmul(scalar_tensor(1), zeros({2})), doctest::Contains("matmul"), Error);
  const std::string mi = message_of([&] { matmul(zeros({2, 2}, kInt64), zeros({2, 2}, kInt64)); });
  CHECK(contains(mi, "matmul"));
  CHECK(contains(mi, "int64"));
  CHECK_THROWS_WITH_AS(matmul(zeros({2}, kInt64), zeros({2}, kInt64)), doctest::Contains("matmul"),
                       Error);
  CHECK_THROWS_WITH_AS(mm(zeros({2, 2, 2}), zeros({2, 2})), doctest::Contains("mm"), Error);
  CHECK_THROWS_WITH_AS(mm(zeros({2, 3}), zeros({2, 3})), doctest::Contains("mm"), Error);
  CHECK_THROWS_WITH_AS(mm(zeros({2, 2}, kInt64), zeros({2, 2}, kInt64)), doctest::Contains("mm"),
                       Error);
  CHECK_THROWS_WITH_AS(bmm(zeros({2, 2}), zeros({2, 2})), doctest::Contains("bmm"), Error);
  CHECK_THROWS_WITH_AS(bmm(zeros({2, 2, 2}), zeros({3, 2, 2})), doctest::Contains("bmm"), Error);
}

TEST_CASE("errors: views and reshapes of the wrong size") {
  Tensor x = zeros({2, 3});
  const std::string m = message_of([&] { x.view({4}); });
  CHECK(contains(m, "view"));
  CHECK(contains(m, "[4]"));
  CHECK(contains(m, "[2, 3]"));
  CHECK_THROWS_WITH_AS(x.view({-1, 4}), doctest::Contains("view"), Error);
  CHECK_THROWS_WITH_AS(x.view({-1, -1}), doctest::Contains("view"), Error);
  CHECK_THROWS_WITH_AS(x.view({3, -2}), doctest::Contains("view"), Error);
  CHECK_THROWS_WITH_AS(x.reshape({7}), doctest::Contains("reshape"), Error);
  CHECK_THROWS_WITH_AS(x.reshape({0, -1}), doctest::Contains("reshape"), Error);
  CHECK_THROWS_WITH_AS(x.t().view({6}), doctest::Contains("reshape()"), Error);  // the hint
  CHECK_THROWS_WITH_AS(zeros({2, 2, 2}).t(), doctest::Contains("t:"), Error);
  CHECK_THROWS_WITH_AS(x.expand({3, 3}), doctest::Contains("expand"), Error);
  CHECK_THROWS_WITH_AS(x.expand({-1, 2, 3}), doctest::Contains("expand"), Error);
  CHECK_THROWS_WITH_AS(x.copy_(zeros({3, 2})), doctest::Contains("copy_"), Error);
  CHECK_THROWS_WITH_AS(Dims({1, 1, 1, 1, 1, 1, 1, 1, 1}), doctest::Contains("Dims"), Error);
  CHECK_THROWS_WITH_AS(
      x.unsqueeze(0).unsqueeze(0).unsqueeze(0).unsqueeze(0).unsqueeze(0).unsqueeze(0).unsqueeze(0),
      doctest::Contains("Dims"), Error);
}

TEST_CASE("errors: using an undefined tensor") {
  Tensor u;
  Tensor x = zeros({2});
  const std::string m = message_of([&] { u.view({1}); });
  CHECK(contains(m, "view"));
  CHECK(contains(m, "undefined"));
  CHECK_THROWS_WITH_AS(u.item(), doctest::Contains("item"), Error);
  CHECK_THROWS_WITH_AS(u.reshape({1}), doctest::Contains("reshape"), Error);
  CHECK_THROWS_WITH_AS(u.clone(), doctest::Contains("clone"), Error);
  CHECK_THROWS_WITH_AS(u.contiguous(), doctest::Contains("contiguous"), Error);
  CHECK_THROWS_WITH_AS(u.to(kFloat64), doctest::Contains("to"), Error);
  CHECK_THROWS_WITH_AS(u.to_vector<float>(), doctest::Contains("to_vector"), Error);
  CHECK_THROWS_WITH_AS(u.t(), doctest::Contains("t:"), Error);
  CHECK_THROWS_WITH_AS(u.transpose(0, 0), doctest::Contains("transpose"), Error);
  CHECK_THROWS_WITH_AS(u.fill_(1), doctest::Contains("fill_"), Error);
  CHECK_THROWS_WITH_AS(u.add_(x), doctest::Contains("add_"), Error);
  CHECK_THROWS_WITH_AS(u.add_(1.0), doctest::Contains("add_"), Error);
  CHECK_THROWS_WITH_AS(x.copy_(u), doctest::Contains("copy_"), Error);
  CHECK_THROWS_WITH_AS(add(u, x), doctest::Contains("add"), Error);
  CHECK_THROWS_WITH_AS(x * u, doctest::Contains("mul"), Error);
  CHECK_THROWS_WITH_AS(u + 1.0, doctest::Contains("add"), Error);
  CHECK_THROWS_WITH_AS(exp(u), doctest::Contains("exp"), Error);
  CHECK_THROWS_WITH_AS(relu(u), doctest::Contains("relu"), Error);
  CHECK_THROWS_WITH_AS(eq(u, 1.0), doctest::Contains("eq"), Error);
  CHECK_THROWS_WITH_AS(sum(u), doctest::Contains("sum"), Error);
  CHECK_THROWS_WITH_AS(mean(u), doctest::Contains("mean"), Error);
  CHECK_THROWS_WITH_AS(softmax(u, 0), doctest::Contains("softmax"), Error);
  CHECK_THROWS_WITH_AS(max(u, 0), doctest::Contains("max"), Error);
  CHECK_THROWS_WITH_AS(matmul(u, x), doctest::Contains("matmul"), Error);
  CHECK_THROWS_WITH_AS(cat({x, u}), doctest::Contains("cat"), Error);
  CHECK_THROWS_WITH_AS(index_select(u, 0, tensor({0}, {}, kInt64)),
                       doctest::Contains("index_select"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, u), doctest::Contains("index_select"), Error);
  CHECK_THROWS_WITH_AS(where(u, x, x), doctest::Contains("where"), Error);
  CHECK_THROWS_WITH_AS(zeros_like(u), doctest::Contains("zeros_like"), Error);
  CHECK_THROWS_WITH_AS(ones_like(u), doctest::Contains("ones_like"), Error);
  CHECK_THROWS_WITH_AS(full_like(u, 1), doctest::Contains("full_like"), Error);
  CHECK_THROWS_WITH_AS(uniform_(u, 0, 1), doctest::Contains("uniform_"), Error);
}

TEST_CASE("errors: item() on a tensor that is not a single element") {
  const std::string m = message_of([&] { zeros({2, 2}).item(); });
  CHECK(contains(m, "item"));
  CHECK(contains(m, "4"));
  CHECK_THROWS_WITH_AS(zeros({0}).item(), doctest::Contains("item"), Error);
  CHECK(zeros({1, 1, 1}).item() == 0.0);
}

TEST_CASE("errors: cat and stack with mismatched shapes") {
  const std::string m = message_of([&] { cat({zeros({2, 2}), zeros({2, 3})}, 0); });
  CHECK(contains(m, "cat"));
  CHECK(contains(m, "[2, 3]"));
  CHECK(contains(m, "[2, 2]"));
  CHECK_THROWS_WITH_AS(cat({zeros({2, 2}), zeros({2})}), doctest::Contains("cat"), Error);
  CHECK_THROWS_WITH_AS(cat({}), doctest::Contains("cat"), Error);
  CHECK_THROWS_WITH_AS(cat({scalar_tensor(1), scalar_tensor(2)}), doctest::Contains("cat"), Error);
  CHECK_NOTHROW(cat({zeros({2, 2}), zeros({2, 3})}, 1));
  CHECK_THROWS_WITH_AS(stack({zeros({2}), zeros({3})}), doctest::Contains("stack"), Error);
  CHECK_THROWS_WITH_AS(stack({}), doctest::Contains("stack"), Error);
}

TEST_CASE("errors: invalid arguments to creation functions") {
  CHECK_THROWS_WITH_AS(arange(0, 5, 0), doctest::Contains("arange"), Error);
  CHECK_THROWS_WITH_AS(linspace(0, 1, -1), doctest::Contains("linspace"), Error);
  CHECK_THROWS_WITH_AS(eye(-1), doctest::Contains("eye"), Error);
  CHECK_THROWS_WITH_AS(empty({2, -1}), doctest::Contains("empty"), Error);
  CHECK_THROWS_WITH_AS(zeros({-3}), doctest::Contains("empty"), Error);
  CHECK_THROWS_WITH_AS(randint(3, 3, {2}), doctest::Contains("randint"), Error);
  CHECK_THROWS_WITH_AS(randperm(-1), doctest::Contains("randperm"), Error);
  CHECK_THROWS_WITH_AS(normal_(zeros({2}), 0, -1), doctest::Contains("normal_"), Error);
  CHECK_THROWS_WITH_AS(rand({2}, kInt64), doctest::Contains("uniform_"), Error);
  CHECK_THROWS_WITH_AS(tensor({1, 2, 3}, {2, 2}), doctest::Contains("3 values"), Error);
}
