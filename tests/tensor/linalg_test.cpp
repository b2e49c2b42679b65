// Matrix products: matmul in every rank combination, mm, bmm, gemm accumulation, strided operands.
#include <limits>

#include "helpers.h"

using namespace seqgrad;
using seqgrad::testing::expect_values;

namespace {
Tensor A() { return tensor({1, 2, 3, 4}, {2, 2}); }  // [[1, 2], [3, 4]]
Tensor B() { return tensor({5, 6, 7, 8}, {2, 2}); }  // [[5, 6], [7, 8]]
Tensor C() { return tensor({1, 0, 1, 1}, {2, 2}); }  // [[1, 0], [1, 1]]
Tensor M() { return tensor({1, 2, 3, 4, 5, 6}, {2, 3}); }
}  // namespace

TEST_CASE("linalg: 2-D matrix products") {
  expect_values(matmul(A(), B()), {2, 2}, {19, 22, 43, 50});
  expect_values(matmul(B(), A()), {2, 2}, {23, 34, 31, 46});
  // [2, 3] @ [3, 2]
  expect_values(matmul(M(), tensor({7, 8, 9, 10, 11, 12}, {3, 2})), {2, 2}, {58, 64, 139, 154});
  expect_values(mm(A(), B()), {2, 2}, {19, 22, 43, 50});
  // [3, 1] @ [1, 2] is an outer product.
  expect_values(matmul(tensor({1, 2, 3}, {3, 1}), tensor({4, 5}, {1, 2})), {3, 2},
                {4, 5, 8, 10, 12, 15});
  expect_values(matmul(eye(3), M().t()), {3, 2}, {1, 4, 2, 5, 3, 6});
}

TEST_CASE("linalg: vector operands") {
  Tensor dot = matmul(tensor({1, 2, 3}), tensor({4, 5, 6}));
  CHECK(dot.dim() == 0);
  CHECK(dot.item() == 32.0);
  // 1-D x 2-D: the vector is a row, then the row dim is dropped.
  expect_values(matmul(tensor({1, 2}), M()), {3}, {9, 12, 15});
  // 2-D x 1-D: the vector is a column, then the column dim is dropped.
  expect_values(matmul(M(), tensor({1, 1, 1})), {2}, {6, 15});
  expect_values(matmul(M(), tensor({1, 0, -1})), {2}, {-2, -2});
  // With transposed matrices.
  expect_values(matmul(M().t(), tensor({1, 1})), {3}, {5, 7, 9});
  expect_values(matmul(tensor({1, 1, 1}), M().t()), {2}, {6, 15});
  // A strided vector (every other element of [1, 9, 2, 9, 3, 9]).
  Tensor v = tensor({1, 9, 2, 9, 3, 9}).slice(0, 0, 6, 2);
  CHECK(matmul(v, tensor({4, 5, 6})).item() == 32.0);
  expect_values(matmul(M(), v), {2}, {14, 32});
}

TEST_CASE("linalg: transposed operands give the hand-computed products") {
  // A.t() = [[1, 3], [2, 4]], B.t() = [[5, 7], [6, 8]]
  expect_values(matmul(A().t(), B()), {2, 2}, {26, 30, 38, 44});
  expect_values(matmul(A(), B().t()), {2, 2}, {17, 23, 39, 53});
  expect_values(matmul(A().t(), B().t()), {2, 2}, {23, 31, 34, 46});  // (B A).t()
  // Non-square: M.t() M and M M.t()
  expect_values(matmul(M().t(), M()), {3, 3}, {17, 22, 27, 22, 29, 36, 27, 36, 45});
  expect_values(matmul(M(), M().t()), {2, 2}, {14, 32, 32, 77});
  // transpose() of a contiguous copy of the transpose is the original again.
  expect_values(matmul(M().t().contiguous().t(), M().t()), {2, 2}, {14, 32, 32, 77});
}

TEST_CASE("linalg: sliced, strided and expanded operands") {
  Tensor big = arange(0.0, 12.0, 1.0, kFloat32).view({3, 4});
  // Narrowed columns keep a leading stride of 4: [[1, 2], [5, 6], [9, 10]]
  Tensor n = big.narrow(1, 1, 2);
  expect_values(matmul(n, tensor({1, 1}, {2, 1})), {3, 1}, {3, 11, 19});
  expect_values(matmul(n.t(), tensor({1, 1, 1}, {3, 1})), {2, 1}, {15, 18});
  // A step-2 slice has a non-unit inner stride: [[0, 2], [4, 6], [8, 10]]
  Tensor s = big.slice(1, 0, 4, 2);
  expect_values(matmul(s, tensor({1, 1}, {2, 1})), {3, 1}, {2, 10, 18});
  expect_values(matmul(s, A()), {3, 2}, {6, 8, 22, 32, 38, 56});
  // Rows taken from the middle of the tensor (a non-zero offset).
  expect_values(matmul(big.narrow(0, 1, 2).narrow(1, 2, 2), A()), {2, 2},
                {6 + 21, 12 + 28, 10 + 33, 20 + 44});
  // An expanded operand has stride 0.
  expect_values(matmul(tensor({1, 2}).expand({3, 2}), B()), {3, 2}, {19, 22, 19, 22, 19, 22});
  expect_values(matmul(A(), tensor({1, 2}, {2, 1}).expand({2, 3})), {2, 3}, {5, 5, 5, 11, 11, 11});
}

TEST_CASE("linalg: batched matmul and bmm") {
  Tensor ab = stack({A(), B()});     // [2, 2, 2]
  Tensor ia = stack({eye(2), A()});  // [2, 2, 2]
  // [A @ I, B @ A]
  expect_values(matmul(ab, ia), {2, 2, 2}, {1, 2, 3, 4, 23, 34, 31, 46});
  expect_values(bmm(ab, ia), {2, 2, 2}, {1, 2, 3, 4, 23, 34, 31, 46});
  // Transposed matrices inside the batch: [A.t() @ C, B.t() @ C]
  expect_values(matmul(ab.transpose(1, 2), C()), {2, 2, 2}, {4, 3, 6, 4, 12, 7, 14, 8});
  expect_values(matmul(ab.transpose(-1, -2), stack({C(), C()})), {2, 2, 2},
                {4, 3, 6, 4, 12, 7, 14, 8});
  // A batch of transposed right operands: [A @ A.t(), B @ A.t()]
  expect_values(matmul(ab, stack({A(), A()}).transpose(1, 2)), {2, 2, 2},
                {5, 11, 11, 25, 17, 39, 23, 53});
}

TEST_CASE("linalg: batch dims broadcast") {
  Tensor ab = stack({A(), B()});
  // 3-D x 2-D: [A @ C, B @ C]
  expect_values(matmul(ab, C()), {2, 2, 2}, {3, 2, 7, 4, 11, 6, 15, 8});
  // ... also from a non-contiguous left operand (the per-batch path).
  expect_values(matmul(stack({A(), B()}, 2).permute({2, 0, 1}), C()), {2, 2, 2},
                {3, 2, 7, 4, 11, 6, 15, 8});
  // 2-D x 3-D: [C @ A, C @ B]
  expect_values(matmul(C(), ab), {2, 2, 2}, {1, 2, 4, 6, 5, 6, 12, 14});
  // [1, 2, 2] x [2, 2, 2]: [A @ I, A @ C]
  expect_values(matmul(A().unsqueeze(0), stack({eye(2), C()})), {2, 2, 2},
                {1, 2, 3, 4, 3, 2, 7, 4});
  // [2, 1, 2, 2] x [3, 2, 2] -> [2, 3, 2, 2]: entry (i, j) is ab[i] @ rhs[j]
  Tensor rhs = stack({eye(2), C(), eye(2) * 2});
  Tensor out = matmul(ab.unsqueeze(1), rhs);
  CHECK(out.shape() == Dims{2, 3, 2, 2});
  expect_values(out, {2, 3, 2, 2},
                {1, 2, 3, 4, 3, 2, 7, 4, 2, 4, 6, 8, 5, 6, 7, 8, 11, 6, 15, 8, 10, 12, 14, 16});
  // 1-D x 3-D and 3-D x 1-D
  expect_values(matmul(tensor({1, 1}), ab), {2, 2}, {4, 6, 12, 14});
  expect_values(matmul(ab, tensor({1, 1})), {2, 2}, {3, 7, 11, 15});
}

TEST_CASE("linalg: float64") {
  Tensor a = tensor({1, 2, 3, 4}, {2, 2}, kFloat64);
  Tensor b = tensor({5, 6, 7, 8}, {2, 2}, kFloat64);
  Tensor p = matmul(a, b);
  CHECK(p.dtype() == kFloat64);
  expect_values(p, {2, 2}, {19, 22, 43, 50}, 1e-15);
  expect_values(matmul(a.t(), b), {2, 2}, {26, 30, 38, 44}, 1e-15);
  Tensor d = matmul(tensor({0.1, 0.2}, {1, 2}, kFloat64), tensor({0.3, 0.4}, {2, 1}, kFloat64));
  CHECK(d.item() == doctest::Approx(0.11).epsilon(1e-15));
  expect_values(matmul(stack({a, b}), a), {2, 2, 2}, {7, 10, 15, 22, 23, 34, 31, 46}, 1e-15);
}

TEST_CASE("linalg: gemm accumulates with beta = 1 and scales with alpha") {
  Tensor out = ones({2, 2});
  const auto v = out.version();
  gemm(A(), B(), out, 1.0, 1.0);
  CHECK(out.version() > v);
  expect_values(out, {2, 2}, {20, 23, 44, 51});
  gemm(A(), B(), out, 2.0, 1.0);  // += 2 A B
  expect_values(out, {2, 2}, {58, 67, 130, 151});
  gemm(A(), B(), out, 1.0, 0.5);  // = A B + out / 2
  expect_values(out, {2, 2}, {48, 55.5, 108, 125.5});
  // beta = 0 overwrites whatever was there, even NaN.
  Tensor junk = full({2, 2}, std::numeric_limits<double>::quiet_NaN());
  gemm(A(), B(), junk);
  expect_values(junk, {2, 2}, {19, 22, 43, 50});
  // Transposed inputs, accumulating.
  Tensor acc = full({2, 2}, 1.0);
  gemm(A().t(), B().t(), acc, 1.0, 1.0);
  expect_values(acc, {2, 2}, {24, 32, 35, 47});
  // Into a view with a leading stride larger than its width: columns 1..2 of a [2, 4].
  Tensor wide = zeros({2, 4});
  gemm(A(), B(), wide.narrow(1, 1, 2), 1.0, 1.0);
  expect_values(wide, {2, 4}, {0, 19, 22, 0, 0, 43, 50, 0});
  // K = 0: the product is zero, so beta decides.
  Tensor k0 = full({2, 2}, 3.0);
  gemm(zeros({2, 0}), zeros({0, 2}), k0, 1.0, 1.0);
  expect_values(k0, {2, 2}, {3, 3, 3, 3});
  gemm(zeros({2, 0}), zeros({0, 2}), k0);
  expect_values(k0, {2, 2}, {0, 0, 0, 0});

  CHECK_THROWS_WITH_AS(gemm(A(), B(), zeros({3, 2})), doctest::Contains("gemm"), Error);
  CHECK_THROWS_WITH_AS(gemm(A(), B(), zeros({2, 2}, kFloat64)), doctest::Contains("gemm"), Error);
  CHECK_THROWS_WITH_AS(gemm(A(), B(), zeros({2, 2}).t()), doctest::Contains("gemm"), Error);
  CHECK_THROWS_WITH_AS(gemm(A().to(kInt64), B().to(kInt64), zeros({2, 2}, kInt64)),
                       doctest::Contains("gemm"), Error);
}

TEST_CASE("linalg: empty products") {
  expect_values(matmul(zeros({2, 0}), zeros({0, 3})), {2, 3}, {0, 0, 0, 0, 0, 0});
  CHECK(matmul(zeros({0, 2}), zeros({2, 3})).shape() == Dims{0, 3});
  CHECK(matmul(zeros({0}), zeros({0})).item() == 0.0);
}

TEST_CASE("linalg: thread count") {
  const int before = get_num_threads();
  CHECK(before >= 1);
  set_num_threads(1);
  CHECK(get_num_threads() == 1);
  expect_values(matmul(A(), B()), {2, 2}, {19, 22, 43, 50});
  set_num_threads(before);
  CHECK_THROWS_WITH_AS(set_num_threads(0), doctest::Contains("set_num_threads"), Error);
}
