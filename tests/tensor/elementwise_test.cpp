// Elementwise: unary maths, binary ops with NumPy broadcasting, comparisons and masks, scalar
// overloads and operators, in-place updates.
#include <cmath>
#include <limits>

#include "helpers.h"

using namespace seqgrad;
using seqgrad::testing::expect_values;

namespace {
const double kLn2 = 0.6931471805599453;
const double kLn3 = 1.0986122886681098;
const double kE = 2.718281828459045;
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

// The values of a bool tensor as 0/1.
std::vector<double> bools(const Tensor& t) {
  REQUIRE(t.dtype() == kBool);
  return t.to(kFloat64).to_vector<double>();
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// Unary

TEST_CASE("elementwise: neg, abs, sign and relu on float and int64") {
  Tensor x = tensor({1.5, -2, 0, 3});
  expect_values(neg(x), {4}, {-1.5, 2, 0, -3});
  expect_values(-x, {4}, {-1.5, 2, 0, -3});
  expect_values(abs(x), {4}, {1.5, 2, 0, 3});
  expect_values(sign(x), {4}, {1, -1, 0, 1});
  expect_values(relu(x), {4}, {1.5, 0, 0, 3});

  Tensor i = tensor({-3, 0, 2}, {}, kInt64);
  CHECK(neg(i).dtype() == kInt64);
  CHECK(neg(i).to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 0, -2});
  CHECK(abs(i).to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 0, 2});
  CHECK(sign(i).to_vector<std::int64_t>() == std::vector<std::int64_t>{-1, 0, 1});
  CHECK(relu(i).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0, 2});

  Tensor d = tensor({-0.25, 4}, {2}, kFloat64);
  CHECK(abs(d).dtype() == kFloat64);
  expect_values(abs(d), {2}, {0.25, 4});
}

TEST_CASE("elementwise: exp, log, sqrt, tanh") {
  expect_values(exp(tensor({0, kLn2, 1, -kLn2})), {4}, {1, 2, kE, 0.5});
  expect_values(log(tensor({1, kE, 0.5, 4})), {4}, {0, 1, -kLn2, 2 * kLn2});
  expect_values(sqrt(tensor({4, 9, 0.25, 0})), {4}, {2, 3, 0.5, 0});
  // tanh(ln 3) = (3 - 1/3) / (3 + 1/3) = 0.8
  expect_values(tanh(tensor({0, kLn3, -kLn3})), {3}, {0, 0.8, -0.8});
  expect_values(tanh(tensor({30, -30}, {2}, kFloat64)), {2}, {1, -1});
  // float64 keeps float64 precision.
  Tensor d = exp(tensor({kLn3}, {1}, kFloat64));
  CHECK(d.dtype() == kFloat64);
  CHECK(d.item() == doctest::Approx(3.0).epsilon(1e-14));
  // log(0) = -inf, log(-1) = NaN, as in C.
  const auto l = log(tensor({0, -1})).to_vector<double>();
  CHECK(l[0] == -kInf);
  CHECK(std::isnan(l[1]));
}

TEST_CASE("elementwise: sigmoid, including large |x| without NaN") {
  // sigmoid(ln 3) = 1 / (1 + 1/3) = 0.75
  expect_values(sigmoid(tensor({0, kLn3, -kLn3})), {3}, {0.5, 0.75, 0.25});
  Tensor big32 = sigmoid(tensor({1000, -1000, 100, -100, 88.8, -88.8}));
  CHECK(all_finite(big32));
  expect_values(big32, {6}, {1, 0, 1, 0, 1, 0}, 1e-30);
  Tensor big64 = sigmoid(tensor({1000, -1000, 800, -800}, {4}, kFloat64));
  CHECK(all_finite(big64));
  expect_values(big64, {4}, {1, 0, 1, 0}, 1e-300);
}

TEST_CASE("elementwise: pow and clamp") {
  Tensor x = tensor({1, 2, 3, -2});
  expect_values(pow(x, 2), {4}, {1, 4, 9, 4});
  expect_values(pow(x, 3), {4}, {1, 8, 27, -8});
  expect_values(pow(x, 0), {4}, {1, 1, 1, 1});
  expect_values(pow(tensor({4, 9, 0.25}), 0.5), {3}, {2, 3, 0.5});
  expect_values(pow(tensor({2, 4}), -1), {2}, {0.5, 0.25});

  expect_values(clamp(tensor({-2, 0.5, 3, -1, 1}), -1, 1), {5}, {-1, 0.5, 1, -1, 1});
  Tensor ci = clamp(tensor({-5, 0, 5}, {}, kInt64), -2, 3);
  CHECK(ci.dtype() == kInt64);
  CHECK(ci.to_vector<std::int64_t>() == std::vector<std::int64_t>{-2, 0, 3});
  CHECK_THROWS_WITH_AS(clamp(x, 1, -1), doctest::Contains("clamp"), Error);
}

TEST_CASE("elementwise: unary ops on non-contiguous input") {
  Tensor x = tensor({1, 4, 9, 16, 25, 36}, {2, 3});
  expect_values(sqrt(x.t()), {3, 2}, {1, 4, 2, 5, 3, 6});
  expect_values(neg(x.slice(1, 0, 3, 2)), {2, 2}, {-1, -9, -16, -36});
  expect_values(relu(tensor({-1, 2}).expand({2, 2})), {2, 2}, {0, 2, 0, 2});
  // 0-d input gives 0-d output.
  Tensor s = exp(scalar_tensor(0));
  CHECK(s.dim() == 0);
  CHECK(s.item() == 1.0);
}

// ---------------------------------------------------------------------------------------------
// Binary and broadcasting

TEST_CASE("elementwise: add, sub, mul, div, maximum, minimum on equal shapes") {
  Tensor a = tensor({1, 2, 3, 4}, {2, 2});
  Tensor b = tensor({10, 4, 8, 2}, {2, 2});
  expect_values(add(a, b), {2, 2}, {11, 6, 11, 6});
  expect_values(sub(a, b), {2, 2}, {-9, -2, -5, 2});
  expect_values(mul(a, b), {2, 2}, {10, 8, 24, 8});
  expect_values(div(a, b), {2, 2}, {0.1, 0.5, 0.375, 2});
  expect_values(maximum(a, b), {2, 2}, {10, 4, 8, 4});
  expect_values(minimum(a, b), {2, 2}, {1, 2, 3, 2});
  expect_values(a + b, {2, 2}, {11, 6, 11, 6});
  expect_values(a - b, {2, 2}, {-9, -2, -5, 2});
  expect_values(a * b, {2, 2}, {10, 8, 24, 8});
  expect_values(a / b, {2, 2}, {0.1, 0.5, 0.375, 2});

  Tensor ai = tensor({7, -3}, {}, kInt64), bi = tensor({2, 5}, {}, kInt64);
  CHECK((ai + bi).dtype() == kInt64);
  CHECK((ai + bi).to_vector<std::int64_t>() == std::vector<std::int64_t>{9, 2});
  CHECK((ai * bi).to_vector<std::int64_t>() == std::vector<std::int64_t>{14, -15});
  CHECK(maximum(ai, bi).to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 5});

  Tensor ad = tensor({1, 3}, {}, kFloat64), bd = tensor({3, 7}, {}, kFloat64);
  Tensor q = ad / bd;
  CHECK(q.dtype() == kFloat64);
  CHECK(q.to_vector<double>()[0] == doctest::Approx(1.0 / 3.0).epsilon(1e-15));
}

TEST_CASE("elementwise: maximum and minimum propagate NaN") {
  const auto mx = maximum(tensor({kNaN, 1, 2}), tensor({0, kNaN, 1})).to_vector<double>();
  CHECK(std::isnan(mx[0]));
  CHECK(std::isnan(mx[1]));
  CHECK(mx[2] == 2.0);
  const auto mn = minimum(tensor({kNaN, 1}), tensor({0, kNaN})).to_vector<double>();
  CHECK(std::isnan(mn[0]));
  CHECK(std::isnan(mn[1]));
}

TEST_CASE("elementwise: broadcasting 3x1 with 1x4") {
  Tensor col = tensor({1, 2, 3}, {3, 1});
  Tensor row = tensor({10, 20, 30, 40}, {1, 4});
  expect_values(col + row, {3, 4}, {11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43});
  expect_values(row + col, {3, 4}, {11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43});
  expect_values(col * row, {3, 4}, {10, 20, 30, 40, 20, 40, 60, 80, 30, 60, 90, 120});
  expect_values(row - col, {3, 4}, {9, 19, 29, 39, 8, 18, 28, 38, 7, 17, 27, 37});
  // [4] broadcasts like [1, 4]; [2, 1, 1] adds a batch dim.
  Tensor r1 = tensor({10, 20, 30, 40});
  expect_values(col + r1, {3, 4}, {11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43});
  Tensor batch = tensor({0, 100}, {2, 1, 1});
  expect_values(batch + col, {2, 3, 1}, {1, 2, 3, 101, 102, 103});
}

TEST_CASE("elementwise: broadcasting a 0-d scalar with 2x3") {
  Tensor s = scalar_tensor(2);
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  expect_values(s * x, {2, 3}, {2, 4, 6, 8, 10, 12});
  expect_values(x * s, {2, 3}, {2, 4, 6, 8, 10, 12});
  expect_values(x - s, {2, 3}, {-1, 0, 1, 2, 3, 4});
  expect_values(s - x, {2, 3}, {1, 0, -1, -2, -3, -4});
  expect_values(s / x, {2, 3}, {2, 1, 2.0 / 3, 0.5, 0.4, 2.0 / 6});
  Tensor ss = s + scalar_tensor(3);
  CHECK(ss.dim() == 0);
  CHECK(ss.item() == 5.0);
}

TEST_CASE("elementwise: non-contiguous (transposed, sliced, expanded) operands") {
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = tensor({10, 20, 30, 40, 50, 60}, {3, 2});
  // x.t() = [[1, 4], [2, 5], [3, 6]]
  expect_values(x.t() + y, {3, 2}, {11, 24, 32, 45, 53, 66});
  expect_values(y + x.t(), {3, 2}, {11, 24, 32, 45, 53, 66});
  expect_values(x.t() * x.t(), {3, 2}, {1, 16, 4, 25, 9, 36});
  expect_values(x.t() + tensor({100, 200}), {3, 2}, {101, 204, 102, 205, 103, 206});
  expect_values(x.t() - y.t().t(), {3, 2}, {-9, -16, -28, -35, -47, -54});
  // Both transposed: the result is laid out as the logical shape.
  Tensor z = x.t() + x.t();
  CHECK(z.is_contiguous());
  expect_values(z, {3, 2}, {2, 8, 4, 10, 6, 12});
  // Strided slices and stride-0 expands.
  Tensor w = arange(0.0, 8.0, 1.0, kFloat32);
  expect_values(w.slice(0, 0, 8, 2) + w.slice(0, 1, 8, 2), {4}, {1, 5, 9, 13});
  expect_values(tensor({1, 2}).expand({3, 2}) * x.t(), {3, 2}, {1, 8, 2, 10, 3, 12});
  // A permuted 3-D operand with a broadcast one.
  Tensor p = arange(0.0, 8.0, 1.0, kFloat32).view({2, 2, 2}).permute({2, 1, 0});
  // p[i][j][k] = 4 k + 2 j + i
  expect_values(p + tensor({0, 100}, {2, 1, 1}), {2, 2, 2}, {0, 4, 2, 6, 101, 105, 103, 107});
}

// ---------------------------------------------------------------------------------------------
// Scalars and operators

TEST_CASE("elementwise: scalar overloads and operators") {
  Tensor x = tensor({1, 2, 4});
  expect_values(x + 1, {3}, {2, 3, 5});
  expect_values(1 + x, {3}, {2, 3, 5});
  expect_values(x - 1, {3}, {0, 1, 3});
  expect_values(10 - x, {3}, {9, 8, 6});
  expect_values(x * 3, {3}, {3, 6, 12});
  expect_values(3 * x, {3}, {3, 6, 12});
  expect_values(x / 2, {3}, {0.5, 1, 2});
  expect_values(8 / x, {3}, {8, 4, 2});
  expect_values(add(x, 0.5), {3}, {1.5, 2.5, 4.5});
  expect_values(mul(x, -1), {3}, {-1, -2, -4});
  expect_values(rsub(x, 1), {3}, {0, -1, -3});
  expect_values(rdiv(x, 1), {3}, {1, 0.5, 0.25});
  expect_values(maximum(x, 2), {3}, {2, 2, 4});
  expect_values(minimum(x, 2), {3}, {1, 2, 2});
  CHECK((x + 1).dtype() == kFloat32);

  // A scalar is converted to the tensor's dtype: int64 stays int64.
  Tensor i = tensor({1, 2, 3}, {}, kInt64);
  Tensor j = i * 2 + 1;
  CHECK(j.dtype() == kInt64);
  CHECK(j.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 5, 7});
  CHECK((10 - i).to_vector<std::int64_t>() == std::vector<std::int64_t>{9, 8, 7});
  CHECK((i - 1).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2});
}

// ---------------------------------------------------------------------------------------------
// Comparisons and masks

TEST_CASE("elementwise: comparisons give bool tensors") {
  Tensor a = tensor({1, 2, 3});
  Tensor b = tensor({2, 2, 2});
  CHECK(eq(a, b).dtype() == kBool);
  CHECK(bools(eq(a, b)) == std::vector<double>{0, 1, 0});
  CHECK(bools(ne(a, b)) == std::vector<double>{1, 0, 1});
  CHECK(bools(lt(a, b)) == std::vector<double>{1, 0, 0});
  CHECK(bools(le(a, b)) == std::vector<double>{1, 1, 0});
  CHECK(bools(gt(a, b)) == std::vector<double>{0, 0, 1});
  CHECK(bools(ge(a, b)) == std::vector<double>{0, 1, 1});

  CHECK(bools(eq(a, 2)) == std::vector<double>{0, 1, 0});
  CHECK(bools(ne(a, 2)) == std::vector<double>{1, 0, 1});
  CHECK(bools(lt(a, 2)) == std::vector<double>{1, 0, 0});
  CHECK(bools(le(a, 2)) == std::vector<double>{1, 1, 0});
  CHECK(bools(gt(a, 1.5)) == std::vector<double>{0, 1, 1});
  CHECK(bools(ge(a, 3)) == std::vector<double>{0, 0, 1});

  // Broadcast: lt(col, row)[i][j] = col[i] < row[j].
  Tensor m = lt(tensor({1, 2, 3}, {3, 1}), tensor({1, 2, 3}, {1, 3}));
  CHECK(m.shape() == Dims{3, 3});
  CHECK(bools(m) == std::vector<double>{0, 1, 1, 0, 0, 1, 0, 0, 0});

  // int64 and transposed operands.
  Tensor i = tensor({1, 5, 3, 2}, {2, 2}, kInt64);
  CHECK(bools(gt(i, i.t())) == std::vector<double>{0, 1, 0, 0});
  CHECK(bools(eq(i, 5)) == std::vector<double>{0, 1, 0, 0});
}

TEST_CASE("elementwise: comparing with a scalar converts the scalar to the tensor's dtype") {
  // 0.1 is not representable: the float32 tensor holds 0.1f, and so does the converted scalar.
  Tensor x = tensor({0.1, 0.2});
  CHECK(bools(eq(x, 0.1)) == std::vector<double>{1, 0});
  CHECK(bools(gt(x, 0.1)) == std::vector<double>{0, 1});
  CHECK(bools(le(x, 0.1)) == std::vector<double>{1, 0});
  CHECK(bools(ne(x, 0.2)) == std::vector<double>{1, 0});
  Tensor d = tensor({0.1}, {1}, kFloat64);
  CHECK(bools(eq(d, 0.1)) == std::vector<double>{1});
}

TEST_CASE("elementwise: logical_not, logical_and, where and masked_fill") {
  Tensor m = tensor({1, 0, 1, 0}, {}, kBool);
  Tensor n = tensor({1, 1, 0, 0}, {}, kBool);
  CHECK(bools(logical_not(m)) == std::vector<double>{0, 1, 0, 1});
  CHECK(bools(logical_and(m, n)) == std::vector<double>{1, 0, 0, 0});
  CHECK(bools(logical_and(tensor({1, 0}, {2, 1}, kBool), tensor({1, 1}, {}, kBool))) ==
        std::vector<double>{1, 1, 0, 0});
  CHECK_THROWS_WITH_AS(logical_not(tensor({1, 0})), doctest::Contains("logical_not"), Error);
  CHECK_THROWS_WITH_AS(logical_and(m, tensor({1, 0, 1, 0})), doctest::Contains("logical_and"),
                       Error);

  Tensor a = tensor({1, 2, 3, 4});
  Tensor b = tensor({-1, -2, -3, -4});
  expect_values(where(m, a, b), {4}, {1, -2, 3, -4});
  // Broadcast: a [2, 1] condition, a [2] operand and a 0-d operand.
  Tensor c = tensor({1, 0}, {2, 1}, kBool);
  expect_values(where(c, tensor({5, 6}), scalar_tensor(0)), {2, 2}, {5, 6, 0, 0});
  // Condition from a comparison on a transposed tensor.
  Tensor x = tensor({1, -2, -3, 4}, {2, 2});
  expect_values(where(gt(x.t(), 0), x.t(), zeros({2, 2})), {2, 2}, {1, 0, 0, 4});
  CHECK_THROWS_WITH_AS(where(a, a, b), doctest::Contains("where"), Error);
  CHECK_THROWS_WITH_AS(where(m, a, b.to(kFloat64)), doctest::Contains("where"), Error);

  Tensor y = tensor({1, 2, 3, 4}, {2, 2});
  expect_values(masked_fill(y, tensor({1, 0}, {2}, kBool), -9), {2, 2}, {-9, 2, -9, 4});
  expect_values(masked_fill(y, tensor({0, 1, 1, 0}, {2, 2}, kBool), 0), {2, 2}, {1, 0, 0, 4});
  expect_values(y, {2, 2}, {1, 2, 3, 4});  // not in place
  // A mask that would enlarge the input is an error.
  CHECK_THROWS_WITH_AS(masked_fill(tensor({1, 2}), tensor({1, 0, 1, 0}, {2, 2}, kBool), 0),
                       doctest::Contains("masked_fill"), Error);
  CHECK_THROWS_WITH_AS(masked_fill(y, y, 0), doctest::Contains("masked_fill"), Error);
}

TEST_CASE("elementwise: all_finite and allclose") {
  CHECK(all_finite(tensor({1, 2, 3})));
  CHECK_FALSE(all_finite(tensor({1, kInf})));
  CHECK_FALSE(all_finite(tensor({kNaN, 1}).t()));
  CHECK(all_finite(tensor({1}, {}, kInt64)));
  CHECK(allclose(tensor({1, 2}), tensor({1, 2.000001})));
  CHECK_FALSE(allclose(tensor({1, 2}), tensor({1, 2.1})));
  CHECK_FALSE(allclose(tensor({1, 2}), tensor({1, 2}, {2, 1})));
  CHECK(allclose(tensor({1, 2}), tensor({1.1, 2.1}), 0.0, 0.11));
}

// ---------------------------------------------------------------------------------------------
// In place

TEST_CASE("elementwise: add_, sub_, mul_, div_ broadcast and bump the version") {
  Tensor x = tensor({1, 2, 3, 4}, {2, 2});
  auto v = x.version();
  x.add_(tensor({10, 20}));
  CHECK(x.version() > v);
  expect_values(x, {2, 2}, {11, 22, 13, 24});

  v = x.version();
  x.add_(tensor({1, 2}, {2, 1}), 2.0);  // x += 2 * col
  CHECK(x.version() > v);
  expect_values(x, {2, 2}, {13, 24, 17, 28});

  v = x.version();
  x.sub_(scalar_tensor(3));
  CHECK(x.version() > v);
  expect_values(x, {2, 2}, {10, 21, 14, 25});

  v = x.version();
  x.mul_(tensor({2, 1}));
  CHECK(x.version() > v);
  expect_values(x, {2, 2}, {20, 21, 28, 25});

  v = x.version();
  x.div_(tensor({4, 7, 4, 5}, {2, 2}));
  CHECK(x.version() > v);
  expect_values(x, {2, 2}, {5, 3, 7, 5});

  v = x.version();
  x.add_(0.5);
  CHECK(x.version() > v);
  expect_values(x, {2, 2}, {5.5, 3.5, 7.5, 5.5});

  v = x.version();
  x.mul_(2.0);
  CHECK(x.version() > v);
  expect_values(x, {2, 2}, {11, 7, 15, 11});

  // The target may not grow.
  CHECK_THROWS_WITH_AS(tensor({1, 2}).add_(tensor({1, 2, 3, 4}, {2, 2})), doctest::Contains("add_"),
                       Error);
  CHECK_THROWS_WITH_AS(x.mul_(tensor({1, 2, 3})), doctest::Contains("mul_"), Error);
  CHECK_THROWS_WITH_AS(x.add_(x.to(kFloat64)), doctest::Contains("add_"), Error);
  // The returned reference is the tensor itself (for chaining).
  CHECK(&x.add_(1.0) == &x);
}

TEST_CASE("elementwise: in-place ops through a transposed view write into the base") {
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor t = x.t();  // [[1, 4], [2, 5], [3, 6]]
  const auto v = x.version();
  t.add_(tensor({10, 20, 30, 40, 50, 60}, {3, 2}));
  CHECK(x.version() > v);
  // t = [[11, 24], [32, 45], [53, 66]] so x = t.t()
  expect_values(x, {2, 3}, {11, 32, 53, 24, 45, 66});
  x.select(1, 1).mul_(0.0);
  expect_values(x, {2, 3}, {11, 0, 53, 24, 0, 66});
  t.select(0, 0).add_(tensor({1, 2}));  // x[:, 0] += [1, 2]
  expect_values(x, {2, 3}, {12, 0, 53, 26, 0, 66});

  Tensor i = tensor({1, 2, 3}, {}, kInt64);
  i.add_(tensor({1, 1, 1}, {}, kInt64), 3.0);
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 5, 6});
}

TEST_CASE("elementwise: copy_ broadcasts and converts dtypes, fill_ and zero_ fill") {
  Tensor x = zeros({2, 3});
  auto v = x.version();
  x.copy_(tensor({1, 2, 3}));
  CHECK(x.version() > v);
  expect_values(x, {2, 3}, {1, 2, 3, 1, 2, 3});
  x.copy_(tensor({7, 8}, {2, 1}));
  expect_values(x, {2, 3}, {7, 7, 7, 8, 8, 8});

  // Conversions: int64 -> float32, float -> int64 truncates, bool -> float64, float -> bool.
  x.copy_(tensor({1, 2, 3, 4, 5, 6}, {2, 3}, kInt64));
  expect_values(x, {2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor i = zeros({3}, kInt64);
  i.copy_(tensor({2.7, -2.7, 0.5}, {}, kFloat64));
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{2, -2, 0});
  Tensor d = zeros({2}, kFloat64);
  d.copy_(tensor({1, 0}, {}, kBool));
  expect_values(d, {2}, {1, 0});
  Tensor b = zeros({3}, kBool);
  b.copy_(tensor({0, 0.5, -3}));
  expect_values(b, {3}, {0, 1, 1});

  // Into a transposed view, from a transposed source.
  Tensor y = zeros({2, 3});
  y.t().copy_(tensor({1, 2, 3, 4, 5, 6}, {3, 2}));
  expect_values(y, {2, 3}, {1, 3, 5, 2, 4, 6});
  Tensor z = zeros({2, 3});
  z.copy_(y.t().t());
  expect_values(z, {2, 3}, {1, 3, 5, 2, 4, 6});

  CHECK_THROWS_WITH_AS(z.copy_(tensor({1, 2})), doctest::Contains("copy_"), Error);

  v = z.version();
  z.fill_(2.5);
  CHECK(z.version() > v);
  expect_values(z, {2, 3}, {2.5, 2.5, 2.5, 2.5, 2.5, 2.5});
  z.narrow(1, 1, 1).zero_();
  expect_values(z, {2, 3}, {2.5, 0, 2.5, 2.5, 0, 2.5});
  Tensor fi = zeros({2}, kInt64);
  fi.fill_(3);
  CHECK(fi.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 3});
}
