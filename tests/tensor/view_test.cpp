// Views share storage with their base and never copy; contiguous/clone/reshape copy when they must.
#include "helpers.h"

using namespace seqgrad;
using seqgrad::testing::expect_values;

namespace {
// 0, 1, ..., n-1 as float32 in the given shape.
Tensor iota_tensor(const Dims& shape) {
  return arange(0.0, static_cast<double>(shape.numel()), 1.0, kFloat32).view(shape);
}
}  // namespace

TEST_CASE("view: metadata of a contiguous tensor") {
  Tensor x = zeros({2, 3, 4});
  CHECK(x.dim() == 3);
  CHECK(x.numel() == 24);
  CHECK(x.strides() == Dims{12, 4, 1});
  CHECK(x.size(0) == 2);
  CHECK(x.size(-1) == 4);
  CHECK(x.stride(-2) == 4);
  CHECK(x.offset() == 0);
  CHECK(x.is_contiguous());
  CHECK(x.defined());
  CHECK_FALSE(Tensor().defined());
}

TEST_CASE("view: reshape and view share storage, one dim may be -1") {
  Tensor x = iota_tensor({2, 6});
  Tensor v = x.view({3, 4});
  CHECK(v.storage() == x.storage());
  CHECK(v.strides() == Dims{4, 1});
  expect_values(v, {3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});

  Tensor w = x.view({-1, 3});
  CHECK(w.shape() == Dims{4, 3});
  CHECK(w.storage() == x.storage());

  Tensor r = x.reshape({2, -1, 2});
  CHECK(r.shape() == Dims{2, 3, 2});
  CHECK(r.storage() == x.storage());

  Tensor f = x.flatten();
  CHECK(f.shape() == Dims{12});
  CHECK(f.storage() == x.storage());

  // A 0-d view of a one-element tensor and back.
  Tensor one = tensor({5});
  CHECK(one.view({}).dim() == 0);
  CHECK(one.view({}).item() == 5.0);
  CHECK(one.view({}).view({1, 1}).shape() == Dims{1, 1});

  // Writing through a view is visible in the base.
  v.select(0, 1).fill_(-1);
  expect_values(x, {2, 6}, {0, 1, 2, 3, -1, -1, -1, -1, 8, 9, 10, 11});
}

TEST_CASE("view: view of a non-contiguous tensor fails, reshape copies instead") {
  Tensor x = iota_tensor({2, 3});
  Tensor xt = x.t();
  CHECK_FALSE(xt.is_contiguous());
  CHECK_THROWS_WITH_AS(xt.view({6}), doctest::Contains("view"), Error);
  Tensor r = xt.reshape({6});
  CHECK(r.storage() != x.storage());
  expect_values(r, {6}, {0, 3, 1, 4, 2, 5});
  // The copy is independent of the base.
  r.fill_(0);
  expect_values(x, {2, 3}, {0, 1, 2, 3, 4, 5});
  // reshape of a non-contiguous tensor is still a view when the strides allow it.
  Tensor rv = xt.reshape({3, 1, 2});
  CHECK(rv.storage() == x.storage());
  expect_values(rv, {3, 1, 2}, {0, 3, 1, 4, 2, 5});
  CHECK(xt.view({1, 3, 2}).storage() == x.storage());

  // A view that only splits a dim that is itself contiguous still works without copying.
  Tensor n = iota_tensor({4, 4}).narrow(1, 0, 2);  // [4, 2] with strides [4, 1]
  Tensor nv = n.view({2, 2, 2});
  CHECK(nv.storage() == n.storage());
  CHECK(nv.strides() == Dims{8, 4, 1});
  expect_values(nv, {2, 2, 2}, {0, 1, 4, 5, 8, 9, 12, 13});
  // ... but merging the narrowed rows is impossible without a copy.
  CHECK_THROWS_AS(n.view({8}), Error);
  expect_values(n.reshape({8}), {8}, {0, 1, 4, 5, 8, 9, 12, 13});
}

TEST_CASE("view: transpose, t and permute swap strides without copying") {
  Tensor x = iota_tensor({2, 3});
  Tensor t = x.t();
  CHECK(t.storage() == x.storage());
  CHECK(t.shape() == Dims{3, 2});
  CHECK(t.strides() == Dims{1, 3});
  expect_values(t, {3, 2}, {0, 3, 1, 4, 2, 5});
  expect_values(x.transpose(0, 1), {3, 2}, {0, 3, 1, 4, 2, 5});
  expect_values(x.transpose(-1, -2), {3, 2}, {0, 3, 1, 4, 2, 5});
  CHECK(tensor({1, 2, 3}).t().shape() == Dims{3});  // t() of a 1-D tensor is itself

  Tensor y = iota_tensor({2, 3, 4});
  Tensor p = y.permute({2, 0, 1});
  CHECK(p.storage() == y.storage());
  CHECK(p.shape() == Dims{4, 2, 3});
  CHECK(p.strides() == Dims{1, 12, 4});
  // p[k][i][j] = y[i][j][k] = 12 i + 4 j + k
  expect_values(p, {4, 2, 3}, {0, 4, 8,  12, 16, 20, 1, 5, 9,  13, 17, 21,
                               2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23});
  CHECK_THROWS_WITH_AS(y.permute({0, 0, 1}), doctest::Contains("permute"), Error);
  CHECK_THROWS_WITH_AS(y.permute({0, 1}), doctest::Contains("permute"), Error);

  // Writing through the transpose shows in the base.
  t.select(0, 2).fill_(9);  // t[2][:] = x[:][2]
  expect_values(x, {2, 3}, {0, 1, 9, 3, 4, 9});
}

TEST_CASE("view: narrow, slice with a step, and select") {
  Tensor x = iota_tensor({3, 4});
  Tensor n = x.narrow(1, 1, 2);
  CHECK(n.storage() == x.storage());
  CHECK(n.offset() == 1);
  CHECK(n.strides() == Dims{4, 1});
  expect_values(n, {3, 2}, {1, 2, 5, 6, 9, 10});
  expect_values(x.narrow(0, -1, 1), {1, 4}, {8, 9, 10, 11});

  Tensor s = x.slice(1, 0, 4, 2);
  CHECK(s.storage() == x.storage());
  CHECK(s.strides() == Dims{4, 2});
  expect_values(s, {3, 2}, {0, 2, 4, 6, 8, 10});
  expect_values(x.slice(1, 1, 4, 2), {3, 2}, {1, 3, 5, 7, 9, 11});
  expect_values(x.slice(0, 1, 100), {2, 4}, {4, 5, 6, 7, 8, 9, 10, 11});  // end is clamped
  expect_values(x.slice(1, -3, -1), {3, 2}, {1, 2, 5, 6, 9, 10});
  CHECK(x.slice(0, 2, 1).size(0) == 0);
  expect_values(arange(0.0, 10.0, 1.0, kFloat32).slice(0, 1, 10, 3), {3}, {1, 4, 7});

  Tensor r = x.select(0, 1);
  CHECK(r.storage() == x.storage());
  expect_values(r, {4}, {4, 5, 6, 7});
  expect_values(x.select(1, -1), {3}, {3, 7, 11});
  Tensor e = x.select(0, 2).select(0, 3);
  CHECK(e.dim() == 0);
  CHECK(e.item() == 11.0);

  // Writing through views.
  x.slice(1, 0, 4, 2).fill_(-1);
  expect_values(x, {3, 4}, {-1, 1, -1, 3, -1, 5, -1, 7, -1, 9, -1, 11});
  x.narrow(0, 2, 1).select(0, 0).narrow(0, 1, 1).fill_(100);
  expect_values(x.select(0, 2), {4}, {-1, 100, -1, 11});
}

TEST_CASE("view: unsqueeze and squeeze") {
  Tensor x = iota_tensor({2, 3});
  Tensor u0 = x.unsqueeze(0);
  CHECK(u0.shape() == Dims{1, 2, 3});
  CHECK(u0.storage() == x.storage());
  CHECK(x.unsqueeze(1).shape() == Dims{2, 1, 3});
  CHECK(x.unsqueeze(2).shape() == Dims{2, 3, 1});
  CHECK(x.unsqueeze(-1).shape() == Dims{2, 3, 1});
  CHECK(x.unsqueeze(-3).shape() == Dims{1, 2, 3});
  CHECK(x.unsqueeze(1).is_contiguous());
  expect_values(x.unsqueeze(1), {2, 1, 3}, {0, 1, 2, 3, 4, 5});

  Tensor y = zeros({1, 3, 1, 2});
  CHECK(y.squeeze().shape() == Dims{3, 2});
  CHECK(y.squeeze(0).shape() == Dims{3, 1, 2});
  CHECK(y.squeeze(-2).shape() == Dims{1, 3, 2});
  CHECK(y.squeeze(1).shape() == Dims{1, 3, 1, 2});  // not size 1: unchanged
  CHECK(y.squeeze().storage() == y.storage());
  CHECK(tensor({4}).squeeze().dim() == 0);
}

TEST_CASE("view: expand uses stride 0 and reads the same element") {
  Tensor x = tensor({1, 2, 3}, {3, 1});
  Tensor e = x.expand({3, 4});
  CHECK(e.storage() == x.storage());
  CHECK(e.strides() == Dims{1, 0});
  expect_values(e, {3, 4}, {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});

  Tensor e2 = x.expand({2, -1, 2});  // a new leading dim, -1 keeps the size
  CHECK(e2.shape() == Dims{2, 3, 2});
  CHECK(e2.strides() == Dims{0, 1, 0});
  expect_values(e2, {2, 3, 2}, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  CHECK_FALSE(e.is_contiguous());

  Tensor s = scalar_tensor(7).expand({2, 2});
  expect_values(s, {2, 2}, {7, 7, 7, 7});

  CHECK_THROWS_WITH_AS(x.expand({2, 4}), doctest::Contains("expand"), Error);
  CHECK_THROWS_WITH_AS(x.expand({4}), doctest::Contains("expand"), Error);
  CHECK_THROWS_WITH_AS(x.expand({3, -2}), doctest::Contains("expand"), Error);

  // Viewing an expanded tensor: splitting the stride-0 dim is a view, merging it is not.
  Tensor sp = e.view({3, 2, 2});
  CHECK(sp.storage() == x.storage());
  CHECK(sp.strides() == Dims{1, 0, 0});
  expect_values(sp, {3, 2, 2}, {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
  CHECK_THROWS_AS(e.view({12}), Error);
  Tensor flat = e.reshape({12});
  CHECK(flat.storage() != x.storage());
  expect_values(flat, {12}, {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
}

TEST_CASE("view: contiguous and clone") {
  Tensor x = iota_tensor({2, 3});
  CHECK(x.contiguous().storage() == x.storage());  // already contiguous: itself

  Tensor t = x.t();
  Tensor c = t.contiguous();
  CHECK(c.storage() != x.storage());
  CHECK(c.is_contiguous());
  CHECK(c.strides() == Dims{2, 1});
  expect_values(c, {3, 2}, {0, 3, 1, 4, 2, 5});

  Tensor e = tensor({1, 2}).expand({3, 2}).contiguous();
  CHECK(e.strides() == Dims{2, 1});
  expect_values(e, {3, 2}, {1, 2, 1, 2, 1, 2});

  Tensor k = x.clone();
  CHECK(k.storage() != x.storage());
  k.fill_(5);
  expect_values(x, {2, 3}, {0, 1, 2, 3, 4, 5});
  x.fill_(1);
  expect_values(k, {2, 3}, {5, 5, 5, 5, 5, 5});

  // Cloning a view copies only the view's elements.
  Tensor base = iota_tensor({4, 4});
  Tensor v = base.narrow(0, 1, 2).narrow(1, 2, 2).clone();
  CHECK(v.offset() == 0);
  CHECK(v.storage()->nbytes() == 4 * sizeof(float));
  expect_values(v, {2, 2}, {6, 7, 10, 11});
}

TEST_CASE("view: as_strided reads the storage directly and checks bounds") {
  Tensor x = iota_tensor({6});
  Tensor a = x.as_strided({2, 2}, {3, 1}, 1);
  CHECK(a.storage() == x.storage());
  expect_values(a, {2, 2}, {1, 2, 4, 5});
  // Overlapping windows (a sliding window of 3 with step 1).
  expect_values(x.as_strided({4, 3}, {1, 1}, 0), {4, 3}, {0, 1, 2, 1, 2, 3, 2, 3, 4, 3, 4, 5});
  expect_values(x.as_strided({2}, {1}, 4), {2}, {4, 5});
  CHECK_THROWS_WITH_AS(x.as_strided({2}, {1}, 5), doctest::Contains("as_strided"), Error);
  CHECK_THROWS_WITH_AS(x.as_strided({3, 2}, {3, 1}, 0), doctest::Contains("as_strided"), Error);
  CHECK_THROWS_WITH_AS(x.as_strided({2}, {1, 1}, 0), doctest::Contains("as_strided"), Error);
  CHECK_THROWS_AS(x.as_strided({2}, {-1}, 0), Error);  // reaches before the storage
}

TEST_CASE("view: the version counter is shared by views and bumped by in-place ops") {
  Tensor x = zeros({2, 2});
  Tensor v = x.t();
  const auto v0 = x.version();
  v.fill_(1);
  CHECK(x.version() == v0 + 1);
  CHECK(v.version() == x.version());
  Tensor c = x.clone();
  const auto cv = c.version();
  x.add_(1.0);
  CHECK(c.version() == cv);  // a clone has its own storage and counter
  CHECK(x.version() == v0 + 2);
}
