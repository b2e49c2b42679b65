// Joining, splitting and indexing: cat, stack, split, chunk, index_select, index_add_, gather,
// scatter_add_.
#include "helpers.h"

using namespace seqgrad;
using seqgrad::testing::expect_values;

namespace {
Tensor idx(std::initializer_list<double> values, const Dims& shape = {}) {
  return tensor(values, shape, kInt64);
}
}  // namespace

TEST_CASE("shape_ops: cat along dim 0, 1 and -1") {
  Tensor a = tensor({1, 2, 3, 4}, {2, 2});
  expect_values(cat({a, tensor({5, 6}, {1, 2})}), {3, 2}, {1, 2, 3, 4, 5, 6});
  expect_values(cat({a, tensor({5, 6}, {2, 1})}, 1), {2, 3}, {1, 2, 5, 3, 4, 6});
  expect_values(cat({a, tensor({5, 6}, {2, 1})}, -1), {2, 3}, {1, 2, 5, 3, 4, 6});
  expect_values(cat({a, a, a}, 0), {6, 2}, {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4});
  // Non-contiguous inputs and an empty piece.
  expect_values(cat({a.t(), zeros({0, 2}), a}), {4, 2}, {1, 3, 2, 4, 1, 2, 3, 4});
  expect_values(cat({tensor({1, 2}), tensor({3})}), {3}, {1, 2, 3});
  // cat copies: the result does not alias the inputs.
  Tensor c = cat({a});
  CHECK(c.storage() != a.storage());
  Tensor ci = cat({idx({1, 2}), idx({3})});
  CHECK(ci.dtype() == kInt64);
  CHECK(ci.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 3});
}

TEST_CASE("shape_ops: stack adds a new dim") {
  Tensor a = tensor({1, 2}), b = tensor({3, 4});
  expect_values(stack({a, b}), {2, 2}, {1, 2, 3, 4});
  expect_values(stack({a, b}, 1), {2, 2}, {1, 3, 2, 4});
  expect_values(stack({a, b}, -1), {2, 2}, {1, 3, 2, 4});
  expect_values(stack({a, b, a}, 0), {3, 2}, {1, 2, 3, 4, 1, 2});
  Tensor m = tensor({1, 2, 3, 4}, {2, 2});
  expect_values(stack({m, m.t()}, 1), {2, 2, 2}, {1, 2, 1, 3, 3, 4, 2, 4});
  expect_values(stack({scalar_tensor(1), scalar_tensor(2)}), {2}, {1, 2});
  CHECK_THROWS_WITH_AS(stack({a, tensor({1, 2, 3})}), doctest::Contains("stack"), Error);
  CHECK_THROWS_WITH_AS(stack({a, b}, 2), doctest::Contains("stack"), Error);
}

TEST_CASE("shape_ops: split and chunk return views") {
  Tensor x = arange(0.0, 5.0, 1.0, kFloat32);
  auto parts = split(x, 2);
  REQUIRE(parts.size() == 3);
  expect_values(parts[0], {2}, {0, 1});
  expect_values(parts[1], {2}, {2, 3});
  expect_values(parts[2], {1}, {4});
  CHECK(parts[1].storage() == x.storage());
  parts[1].fill_(-1);  // writes through to x
  expect_values(x, {5}, {0, 1, -1, -1, 4});

  Tensor m = arange(0.0, 8.0, 1.0, kFloat32).view({2, 4});
  auto cols = split(m, 3, 1);
  REQUIRE(cols.size() == 2);
  expect_values(cols[0], {2, 3}, {0, 1, 2, 4, 5, 6});
  expect_values(cols[1], {2, 1}, {3, 7});
  auto whole = split(m, 10, 0);
  REQUIRE(whole.size() == 1);
  expect_values(whole[0], {2, 4}, {0, 1, 2, 3, 4, 5, 6, 7});

  auto c3 = chunk(arange(0.0, 6.0, 1.0, kFloat32), 3);
  REQUIRE(c3.size() == 3);
  expect_values(c3[0], {2}, {0, 1});
  expect_values(c3[2], {2}, {4, 5});
  auto c5 = chunk(arange(0.0, 5.0, 1.0, kFloat32), 3);  // sizes 2, 2, 1 as in torch.chunk
  REQUIRE(c5.size() == 3);
  expect_values(c5[2], {1}, {4});
  auto halves = chunk(m, 2, -1);
  REQUIRE(halves.size() == 2);
  expect_values(halves[0], {2, 2}, {0, 1, 4, 5});
  expect_values(halves[1], {2, 2}, {2, 3, 6, 7});
  CHECK(halves[1].storage() == m.storage());

  CHECK_THROWS_WITH_AS(split(m, 0), doctest::Contains("split"), Error);
  CHECK_THROWS_WITH_AS(chunk(m, 0), doctest::Contains("chunk"), Error);
}

TEST_CASE("shape_ops: index_select along dim 0 and 1 with repeated indices") {
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {3, 2});
  expect_values(index_select(x, 0, idx({2, 0, 2})), {3, 2}, {5, 6, 1, 2, 5, 6});
  expect_values(index_select(x, 1, idx({1, 1, 0})), {3, 3}, {2, 2, 1, 4, 4, 3, 6, 6, 5});
  expect_values(index_select(x, -1, idx({0})), {3, 1}, {1, 3, 5});
  CHECK(index_select(x, 0, idx({})).shape() == Dims{0, 2});
  // Non-contiguous source: x.t() = [[1, 3, 5], [2, 4, 6]]
  expect_values(index_select(x.t(), 0, idx({1, 0})), {2, 3}, {2, 4, 6, 1, 3, 5});
  expect_values(index_select(x.t(), 1, idx({2, 2})), {2, 2}, {5, 5, 6, 6});
  // A non-contiguous index.
  Tensor strided = idx({2, 9, 0, 9}).slice(0, 0, 4, 2);
  expect_values(index_select(x, 0, strided), {2, 2}, {5, 6, 1, 2});
  // The result is a copy.
  Tensor r = index_select(x, 0, idx({0}));
  r.fill_(0);
  expect_values(x, {3, 2}, {1, 2, 3, 4, 5, 6});
  // int64 data (an embedding table of ids).
  Tensor table = idx({10, 11, 20, 21}, {2, 2});
  CHECK(index_select(table, 0, idx({1, 1})).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{20, 21, 20, 21});
  CHECK_THROWS_WITH_AS(index_select(x, 0, tensor({0, 1})), doctest::Contains("index_select"),
                       Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, idx({0, 1}, {1, 2})), doctest::Contains("index_select"),
                       Error);
}

TEST_CASE("shape_ops: index_add_ accumulates repeated indices") {
  Tensor t = zeros({3, 2});
  const auto v = t.version();
  index_add_(t, 0, idx({0, 2, 0}), tensor({1, 2, 3, 4, 5, 6}, {3, 2}));
  CHECK(t.version() > v);
  expect_values(t, {3, 2}, {6, 8, 0, 0, 3, 4});
  // Again on top: it adds, it does not overwrite.
  index_add_(t, 0, idx({1}), tensor({1, 1}, {1, 2}));
  expect_values(t, {3, 2}, {6, 8, 1, 1, 3, 4});

  Tensor u = zeros({2, 3});
  index_add_(u, 1, idx({2, 2, 0}), tensor({1, 2, 3, 4, 5, 6}, {2, 3}));
  expect_values(u, {2, 3}, {3, 0, 3, 6, 0, 9});

  // A non-contiguous target (the general path): rows of u.t() are columns of u.
  Tensor w = zeros({2, 3});
  index_add_(w.t(), 0, idx({1, 1}), tensor({1, 2, 10, 20}, {2, 2}));
  expect_values(w, {2, 3}, {0, 11, 0, 0, 22, 0});
  // A non-contiguous source.
  Tensor z = zeros({2, 2});
  index_add_(z, 0, idx({1, 1}), tensor({1, 2, 3, 4}, {2, 2}).t());
  expect_values(z, {2, 2}, {0, 0, 3, 7});

  CHECK_THROWS_WITH_AS(index_add_(t, 0, idx({3}), zeros({1, 2})), doctest::Contains("index_add_"),
                       Error);
  CHECK_THROWS_WITH_AS(index_add_(t, 0, idx({0}), zeros({2, 2})), doctest::Contains("index_add_"),
                       Error);
  CHECK_THROWS_WITH_AS(index_add_(t, 0, idx({0}), zeros({1, 2}, kFloat64)),
                       doctest::Contains("index_add_"), Error);
}

TEST_CASE("shape_ops: gather") {
  Tensor x = tensor({1, 2, 3, 4}, {2, 2});
  // dim 1: out[i][j] = x[i][index[i][j]]
  expect_values(gather(x, 1, idx({0, 0, 1, 0}, {2, 2})), {2, 2}, {1, 1, 4, 3});
  // dim 0: out[i][j] = x[index[i][j]][j]
  expect_values(gather(x, 0, idx({1, 0, 0, 0}, {2, 2})), {2, 2}, {3, 2, 1, 2});
  // An index smaller than x in the other dim (picking one class per row, as in NLL loss).
  Tensor logits = tensor({0, 1, 2, 3, 4, 5, 6, 7, 8}, {3, 3});
  expect_values(gather(logits, 1, idx({2, 0, 1}, {3, 1})), {3, 1}, {2, 3, 7});
  expect_values(gather(logits, 1, idx({2, 0}, {2, 1})), {2, 1}, {2, 3});
  expect_values(gather(logits, -1, idx({1, 1, 1, 2}, {2, 2})), {2, 2}, {1, 1, 4, 5});
  // Transposed source: logits.t()[i][j] = logits[j][i]
  expect_values(gather(logits.t(), 1, idx({2, 0, 1}, {3, 1})), {3, 1}, {6, 1, 5});
  CHECK_THROWS_WITH_AS(gather(x, 1, idx({0, 2}, {2, 1})), doctest::Contains("gather"), Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, idx({0, -1}, {2, 1})), doctest::Contains("gather"), Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, idx({0, 1})), doctest::Contains("gather"), Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, tensor({0, 1}, {2, 1})), doctest::Contains("gather"), Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, idx({0, 0, 0}, {3, 1})), doctest::Contains("gather"), Error);
}

TEST_CASE("shape_ops: scatter_add_ accumulates repeated indices") {
  Tensor t = zeros({2, 3});
  const auto v = t.version();
  // dim 1: t[i][index[i][j]] += src[i][j]
  scatter_add_(t, 1, idx({0, 0, 2, 1, 1, 1}, {2, 3}), tensor({1, 2, 3, 4, 5, 6}, {2, 3}));
  CHECK(t.version() > v);
  expect_values(t, {2, 3}, {3, 0, 3, 0, 15, 0});

  // dim 0: t[index[i][j]][j] += src[i][j]
  Tensor u = zeros({2, 2});
  scatter_add_(u, 0, idx({1, 0, 1, 1}, {2, 2}), tensor({1, 2, 3, 4}, {2, 2}));
  expect_values(u, {2, 2}, {0, 2, 4, 4});

  // gather's backward: scatter the picked gradient back into a [3, 3] zero tensor.
  Tensor g = zeros({3, 3});
  scatter_add_(g, 1, idx({2, 0, 1}, {3, 1}), tensor({1, 1, 1}, {3, 1}));
  expect_values(g, {3, 3}, {0, 0, 1, 1, 0, 0, 0, 1, 0});

  // Into a transposed target: w.t()[i][index] += src
  Tensor w = zeros({2, 2});
  scatter_add_(w.t(), 1, idx({1, 1}, {2, 1}), tensor({5, 7}, {2, 1}));
  expect_values(w, {2, 2}, {0, 0, 5, 7});

  CHECK_THROWS_WITH_AS(scatter_add_(t, 1, idx({3}, {1, 1}), tensor({1}, {1, 1})),
                       doctest::Contains("scatter_add_"), Error);
  CHECK_THROWS_WITH_AS(scatter_add_(t, 1, idx({0, 0}, {1, 2}), tensor({1}, {1, 1})),
                       doctest::Contains("scatter_add_"), Error);
  CHECK_THROWS_WITH_AS(scatter_add_(t, 1, idx({0}, {1, 1}), tensor({1}, {1, 1}, kFloat64)),
                       doctest::Contains("scatter_add_"), Error);
}
