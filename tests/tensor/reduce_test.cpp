// Reductions (sum, mean, amax, amin, logsumexp), max/min with indices, softmax and log_softmax.
#include <cmath>
#include <limits>

#include "helpers.h"

using namespace seqgrad;
using seqgrad::testing::expect_values;

namespace {
const double kLn2 = 0.6931471805599453;
const double kLn3 = 1.0986122886681098;
const double kLn4 = 1.3862943611198906;
const double kLn5 = 1.6094379124341003;
const double kInf = std::numeric_limits<double>::infinity();

// 0, 1, ..., n-1 as float32 in the given shape.
Tensor iota(const Dims& shape) {
  return arange(0.0, static_cast<double>(shape.numel()), 1.0, kFloat32).view(shape);
}
std::vector<std::int64_t> ints(const Tensor& t) {
  REQUIRE(t.dtype() == kInt64);
  return t.to_vector<std::int64_t>();
}
}  // namespace

TEST_CASE("reduce: sum over one dim, negative dims, all dims, keepdim") {
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  expect_values(sum(x), {}, {21});
  expect_values(sum(x, {0}), {3}, {5, 7, 9});
  expect_values(sum(x, {1}), {2}, {6, 15});
  expect_values(sum(x, {-1}), {2}, {6, 15});
  expect_values(sum(x, {-2}), {3}, {5, 7, 9});
  expect_values(sum(x, {1}, true), {2, 1}, {6, 15});
  expect_values(sum(x, {0}, true), {1, 3}, {5, 7, 9});
  expect_values(sum(x, {0, 1}), {}, {21});
  expect_values(sum(x, {1, 0}), {}, {21});
  expect_values(sum(x, {}, true), {1, 1}, {21});
  CHECK(sum(x).dtype() == kFloat32);
  CHECK(sum(x).item() == 21.0);
}

TEST_CASE("reduce: sum over several dims of a 3-D tensor") {
  Tensor y = iota({2, 3, 4});  // y[a][b][c] = 12 a + 4 b + c
  // sum over a and c: 2 * 4 * 4b + (0 + 12) * 4 + 2 * 6 = 32 b + 60
  expect_values(sum(y, {0, 2}), {3}, {60, 92, 124});
  expect_values(sum(y, {-1, 0}), {3}, {60, 92, 124});
  expect_values(sum(y, {0, 2}, true), {1, 3, 1}, {60, 92, 124});
  // sum over b: 36 a + 12 + 3 c
  expect_values(sum(y, {1}), {2, 4}, {12, 15, 18, 21, 48, 51, 54, 57});
  expect_values(sum(y, {1}, true), {2, 1, 4}, {12, 15, 18, 21, 48, 51, 54, 57});
  expect_values(sum(y), {}, {276});  // 0 + 1 + ... + 23
  expect_values(sum(y, {0, 1, 2}, true), {1, 1, 1}, {276});
}

TEST_CASE("reduce: reductions of non-contiguous input") {
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor t = x.t();  // [[1, 4], [2, 5], [3, 6]]
  expect_values(sum(t, {0}), {2}, {6, 15});
  expect_values(sum(t, {1}), {3}, {5, 7, 9});
  expect_values(sum(t), {}, {21});
  expect_values(mean(t, {1}), {3}, {2.5, 3.5, 4.5});
  expect_values(amax(t, {0}), {2}, {3, 6});
  expect_values(amin(t, {1}, true), {3, 1}, {1, 2, 3});

  Tensor p = iota({2, 3, 4}).permute({2, 0, 1});  // p[c][a][b] = 12 a + 4 b + c
  // sum over c: 4 (12 a + 4 b) + 6
  expect_values(sum(p, {0}), {2, 3}, {6, 22, 38, 54, 70, 86});
  expect_values(amax(p, {0, 2}), {2}, {11, 23});

  // Strided slice: every other column of iota(3, 4) is [[0, 2], [4, 6], [8, 10]].
  Tensor s = iota({3, 4}).slice(1, 0, 4, 2);
  expect_values(sum(s, {0}), {2}, {12, 18});
  expect_values(sum(s, {1}), {3}, {2, 10, 18});
  // Expanded (stride 0): each row counted three times.
  expect_values(sum(tensor({1, 2}).expand({3, 2}), {0}), {2}, {3, 6});
}

TEST_CASE("reduce: mean") {
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  expect_values(mean(x), {}, {3.5});
  expect_values(mean(x, {0}), {3}, {2.5, 3.5, 4.5});
  expect_values(mean(x, {1}), {2}, {2, 5});
  expect_values(mean(x, {-1}, true), {2, 1}, {2, 5});
  Tensor y = iota({2, 3, 4});
  // mean over a and c of 12 a + 4 b + c: 6 + 4 b + 1.5
  expect_values(mean(y, {0, 2}), {3}, {7.5, 11.5, 15.5});
  Tensor d = tensor({1, 2}, {2}, kFloat64);
  CHECK(mean(d).dtype() == kFloat64);
  CHECK(mean(d).item() == 1.5);
  CHECK_THROWS_WITH_AS(mean(tensor({1, 2}, {}, kInt64)), doctest::Contains("mean"), Error);
}

TEST_CASE("reduce: amax and amin") {
  Tensor x = tensor({3, -1, 7, 2, 8, -5}, {2, 3});
  expect_values(amax(x), {}, {8});
  expect_values(amin(x), {}, {-5});
  expect_values(amax(x, {0}), {3}, {3, 8, 7});
  expect_values(amin(x, {0}), {3}, {2, -1, -5});
  expect_values(amax(x, {1}), {2}, {7, 8});
  expect_values(amin(x, {-1}, true), {2, 1}, {-1, -5});
  expect_values(amax(tensor({-3, -2}, {2}, kFloat64)), {}, {-2});
  CHECK_THROWS_WITH_AS(amax(zeros({0, 2})), doctest::Contains("amax"), Error);
}

TEST_CASE("reduce: int64 and bool reductions") {
  Tensor i = tensor({3, 1, 2, 9, -4, 5}, {2, 3}, kInt64);
  Tensor s = sum(i, {1});
  CHECK(s.dtype() == kInt64);
  CHECK(ints(s) == std::vector<std::int64_t>{6, 10});
  CHECK(ints(amax(i, {1})) == std::vector<std::int64_t>{3, 9});
  CHECK(ints(amin(i, {1})) == std::vector<std::int64_t>{1, -4});
  CHECK(ints(amin(i)) == std::vector<std::int64_t>{-4});
  CHECK(ints(amax(i)) == std::vector<std::int64_t>{9});
  CHECK(ints(amin(i, {0})) == std::vector<std::int64_t>{3, -4, 2});
  CHECK(ints(amax(tensor({-3, -1, -2}, {}, kInt64))) == std::vector<std::int64_t>{-1});

  // Summing a mask counts the true entries.
  Tensor m = tensor({1, 0, 1, 1}, {2, 2}, kBool);
  CHECK(ints(sum(m)) == std::vector<std::int64_t>{3});
  CHECK(ints(sum(m, {0})) == std::vector<std::int64_t>{2, 1});
}

TEST_CASE("reduce: empty inputs") {
  expect_values(sum(zeros({0, 3}), {0}), {3}, {0, 0, 0});
  expect_values(sum(zeros({0})), {}, {0});
  CHECK(sum(zeros({2, 0}), {0}).shape() == Dims{0});
}

TEST_CASE("reduce: max and min with indices, argmax and argmin take the first on ties") {
  Tensor x = tensor({1, 3, 3, 5, 0, 5}, {2, 3});
  auto [mv, mi] = max(x, 1);
  expect_values(mv, {2}, {3, 5});
  CHECK(mi.dtype() == kInt64);
  CHECK(ints(mi) == std::vector<std::int64_t>{1, 0});
  auto [nv, ni] = min(x, 1);
  expect_values(nv, {2}, {1, 0});
  CHECK(ints(ni) == std::vector<std::int64_t>{0, 1});

  auto [cv, ci] = max(x, 0, true);
  expect_values(cv, {1, 3}, {5, 3, 5});
  CHECK(ci.shape() == Dims{1, 3});
  CHECK(ints(ci) == std::vector<std::int64_t>{1, 0, 1});

  CHECK(ints(argmax(tensor({2, 2, 1}), 0)) == std::vector<std::int64_t>{0});
  CHECK(ints(argmin(tensor({1, 0, 0}), 0)) == std::vector<std::int64_t>{1});
  CHECK(ints(argmax(x, -1)) == std::vector<std::int64_t>{1, 0});
  CHECK(argmax(x, -1, true).shape() == Dims{2, 1});
  CHECK(ints(argmin(x, 0)) == std::vector<std::int64_t>{0, 1, 0});

  // A transposed input: argmax along dim 1 of x.t() is argmax along dim 0 of x.
  CHECK(ints(argmax(x.t(), 1)) == std::vector<std::int64_t>{1, 0, 1});
  auto [tv, ti] = min(x.t(), 0);
  expect_values(tv, {2}, {1, 0});
  CHECK(ints(ti) == std::vector<std::int64_t>{0, 1});

  // 3-D, middle dim: y[a][b][c] = 12 a + 4 b + c is largest at b = 2.
  Tensor y = iota({2, 3, 4});
  auto [yv, yi] = max(y, 1);
  expect_values(yv, {2, 4}, {8, 9, 10, 11, 20, 21, 22, 23});
  CHECK(ints(yi) == std::vector<std::int64_t>{2, 2, 2, 2, 2, 2, 2, 2});

  // int64 input.
  auto [iv, ii] = max(tensor({4, -2, 9, 9}, {}, kInt64), 0);
  CHECK(iv.item() == 9.0);
  CHECK(ii.item() == 2.0);

  CHECK_THROWS_WITH_AS(max(zeros({2, 0}), 1), doctest::Contains("max"), Error);
}

TEST_CASE("reduce: max and argmax put NaN first, along contiguous rows and along strided lanes") {
  const double nan = std::nan("");
  // Rows: a NaN after the max, a NaN first, two NaNs, a tie, pairs as in a maxout.
  const std::vector<double> v{1, 4, nan, 2, nan, 5, 6, 7, 3, nan, 0, nan, 2, 8, 8, 1};
  const std::vector<double> want_values{nan, nan, nan, 8};
  const std::vector<std::int64_t> want_index{2, 0, 1, 1};
  const Tensor rows = from_vector(v, {4, 4});  // float64, contiguous: lanes are rows
  const Tensor rows32 = rows.to(kFloat32);
  // The same values with lanes strided by 4: the general path.
  for (const Tensor& x : {rows, rows.t().contiguous().t(), rows32, rows32.t().contiguous().t()}) {
    CAPTURE(x.is_contiguous());
    CAPTURE(x.dtype());
    auto [mv, mi] = max(x, 1);
    const std::vector<double> got = mv.to(kFloat64).to_vector<double>();
    for (std::size_t i = 0; i < got.size(); ++i)
      CHECK((std::isnan(want_values[i]) ? std::isnan(got[i]) : got[i] == want_values[i]));
    CHECK(ints(mi) == want_index);
    CHECK(ints(argmax(x, 1)) == want_index);
  }
  // Pairs along the last dim of a 3-D tensor (Cho's maxout): [2, 2, 2].
  auto [pv, pi] = max(tensor({1, 2, 4, 3, -1, -1, 0, 5}, {2, 2, 2}), -1);
  expect_values(pv, {2, 2}, {2, 4, -1, 5});
  CHECK(ints(pi) == std::vector<std::int64_t>{1, 0, 0, 1});
  auto [nv, ni] = min(tensor({1, 2, 4, 3, -1, -1, 0, 5}, {2, 2, 2}), -1);
  expect_values(nv, {2, 2}, {1, 3, -1, 0});
  CHECK(ints(ni) == std::vector<std::int64_t>{0, 1, 0, 0});
}

TEST_CASE("reduce: logsumexp is stable for large values") {
  // log(1 + 3) = ln 4
  expect_values(logsumexp(tensor({0, kLn3}), {0}), {}, {kLn4});
  expect_values(logsumexp(tensor({1000, 1000}), {0}), {}, {1000 + kLn2});
  expect_values(logsumexp(tensor({-1000, -1000}), {0}), {}, {-1000 + kLn2});
  expect_values(logsumexp(tensor({1000, 1000}, {2}, kFloat64), {0}), {}, {1000 + kLn2}, 1e-12);
  Tensor x = tensor({0, kLn3, 1000, 1000}, {2, 2});
  expect_values(logsumexp(x, {1}), {2}, {kLn4, 1000 + kLn2});
  expect_values(logsumexp(x, {-1}, true), {2, 1}, {kLn4, 1000 + kLn2});
  // Along dim 0: log(1 + e^1000) = 1000 (to float precision), log(3 + e^1000) = 1000.
  expect_values(logsumexp(x, {0}), {2}, {1000, 1000});
  // Over all dims of [[0, 0], [0, 0]]: ln 4.
  expect_values(logsumexp(zeros({2, 2}), {}), {}, {kLn4});
  expect_values(logsumexp(zeros({2, 2}).t(), {0, 1}), {}, {kLn4});
  CHECK(all_finite(logsumexp(tensor({1e30, 1e30}), {0})));
  // An all -inf slice gives -inf, not NaN.
  const double l = logsumexp(tensor({-kInf, -kInf}), {0}).item();
  CHECK(l == -kInf);
  CHECK_THROWS_WITH_AS(logsumexp(tensor({1, 2}, {}, kInt64), {0}), doctest::Contains("logsumexp"),
                       Error);
}

TEST_CASE("reduce: softmax and log_softmax along dim 0 and 1") {
  expect_values(softmax(tensor({0, kLn2}), 0), {2}, {1.0 / 3, 2.0 / 3});
  // x = [[0, ln 3], [ln 2, ln 3]]
  Tensor x = tensor({0, kLn3, kLn2, kLn3}, {2, 2});
  // rows: [1, 3] / 4 and [2, 3] / 5
  expect_values(softmax(x, 1), {2, 2}, {0.25, 0.75, 0.4, 0.6});
  expect_values(softmax(x, -1), {2, 2}, {0.25, 0.75, 0.4, 0.6});
  // columns: [1, 2] / 3 and [3, 3] / 6
  expect_values(softmax(x, 0), {2, 2}, {1.0 / 3, 0.5, 2.0 / 3, 0.5});
  expect_values(log_softmax(x, 1), {2, 2}, {-kLn4, kLn3 - kLn4, kLn2 - kLn5, kLn3 - kLn5});
  expect_values(log_softmax(x, 0), {2, 2}, {-kLn3, -kLn2, kLn2 - kLn3, -kLn2});

  // Transposed input: x.t() = [[0, ln 2], [ln 3, ln 3]]
  expect_values(softmax(x.t(), 0), {2, 2}, {0.25, 0.4, 0.75, 0.6});
  expect_values(softmax(x.t(), 1), {2, 2}, {1.0 / 3, 2.0 / 3, 0.5, 0.5});
  expect_values(log_softmax(x.t(), 0), {2, 2}, {-kLn4, kLn2 - kLn5, kLn3 - kLn4, kLn3 - kLn5});

  // 3-D along the middle dim: every lane is [0, ln 2] -> [1/3, 2/3].
  Tensor y = tensor({0, 0, 0, kLn2, kLn2, kLn2, 0, 0, 0, kLn2, kLn2, kLn2}, {2, 2, 3});
  expect_values(softmax(y, 1), {2, 2, 3},
                {1.0 / 3, 1.0 / 3, 1.0 / 3, 2.0 / 3, 2.0 / 3, 2.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3,
                 2.0 / 3, 2.0 / 3, 2.0 / 3});

  Tensor d = softmax(tensor({0, kLn2}, {2}, kFloat64), 0);
  CHECK(d.dtype() == kFloat64);
  expect_values(d, {2}, {1.0 / 3, 2.0 / 3}, 1e-14);
}

TEST_CASE("reduce: softmax and log_softmax are stable for large values") {
  // softmax([1000, 1001]) = [1, e] / (1 + e)
  const double p0 = 1.0 / (1.0 + 2.718281828459045), p1 = 1.0 - p0;
  Tensor s = softmax(tensor({1000, 1001}), 0);
  CHECK(all_finite(s));
  expect_values(s, {2}, {p0, p1});
  expect_values(softmax(tensor({-1000, -1001}), 0), {2}, {p1, p0});
  expect_values(softmax(tensor({1000, 1000 + kLn3}, {2}, kFloat64), 0), {2}, {0.25, 0.75}, 1e-10);
  expect_values(softmax(tensor({-1000, 0}), 0), {2}, {0, 1});
  // log_softmax([1000, 1001]) = [-log(1 + e), 1 - log(1 + e)]
  const double l = std::log(1.0 + 2.718281828459045);
  Tensor ls = log_softmax(tensor({1000, 1001}), 0);
  CHECK(all_finite(ls));
  expect_values(ls, {2}, {-l, 1 - l}, 1e-5);
  expect_values(log_softmax(tensor({1000, 1001}, {1, 2}).t(), 0), {2, 1}, {-l, 1 - l}, 1e-5);
  // -inf entries get probability 0.
  expect_values(softmax(tensor({-kInf, 0, 0}), 0), {3}, {0, 0.5, 0.5});
  CHECK_THROWS_WITH_AS(softmax(tensor({1, 2}, {}, kInt64), 0), doctest::Contains("softmax"), Error);
}

TEST_CASE(
    "reduce: sum over leading dims is exact for integers and the same bits at 1, 2, 3 threads") {
  // [300, 3, 130] summed over {0, 1}: 900 rows of 130 columns (a tile of 128 and a part tile), big
  // enough to be split between threads. Integer values make every float64 partial sum exact, so
  // column j must be sum_r (r * 7 + j) % 11 computed here.
  const std::int64_t rows = 900, cols = 130;
  std::vector<double> v(static_cast<std::size_t>(rows * cols));
  std::vector<double> expected(static_cast<std::size_t>(cols), 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j) {
      const double x = static_cast<double>((r * 7 + j) % 11);
      v[static_cast<std::size_t>(r * cols + j)] = x;
      expected[static_cast<std::size_t>(j)] += x;
    }
  const Tensor x = from_vector(v, {300, 3, cols}).to(kFloat32);
  expect_values(sum(x, {0, 1}), {cols}, expected);
  // Random values: the sum is rounded, so the threads must round it the same way.
  Generator gen(3);
  const Tensor y = randn({rows, 1000}, kFloat32, &gen);
  const auto one = sum(y, {0}).to_vector<float>();
  for (int threads : {2, 3}) {
    set_num_threads(threads);
    const auto many = sum(y, {0}).to_vector<float>();
    set_num_threads(1);
    CHECK(many == one);
  }
}
