// Creation: constant fills, ranges, identity, tensors from C++ data, random draws.
#include <algorithm>
#include <cmath>
#include <set>

#include "helpers.h"

using namespace seqgrad;
using seqgrad::testing::expect_values;

TEST_CASE("creation: zeros, ones and full have the requested shape, dtype and value") {
  Tensor z = zeros({2, 3});
  CHECK(z.dtype() == kFloat32);
  CHECK(z.is_contiguous());
  expect_values(z, {2, 3}, {0, 0, 0, 0, 0, 0});

  Tensor o = ones({3}, kFloat64);
  CHECK(o.dtype() == kFloat64);
  expect_values(o, {3}, {1, 1, 1});

  Tensor f = full({2, 2}, 2.5);
  expect_values(f, {2, 2}, {2.5, 2.5, 2.5, 2.5});

  Tensor fi = full({2}, 7, kInt64);
  CHECK(fi.dtype() == kInt64);
  CHECK(fi.to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 7});

  Tensor fb = full({2}, 1, kBool);
  CHECK(fb.dtype() == kBool);
  expect_values(fb, {2}, {1, 1});

  Tensor s = scalar_tensor(4.0);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item() == 4.0);

  Tensor e = zeros({0, 3});
  CHECK(e.numel() == 0);
  CHECK(e.to_vector<float>().empty());
}

TEST_CASE("creation: *_like copy shape and dtype") {
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {3, 2}, kFloat64);
  Tensor z = zeros_like(x);
  CHECK(z.dtype() == kFloat64);
  expect_values(z, {3, 2}, {0, 0, 0, 0, 0, 0});
  expect_values(ones_like(x), {3, 2}, {1, 1, 1, 1, 1, 1});
  expect_values(full_like(x, -2), {3, 2}, {-2, -2, -2, -2, -2, -2});
  CHECK(z.storage() != x.storage());
}

TEST_CASE("creation: arange") {
  Tensor a = arange(5);
  CHECK(a.dtype() == kInt64);
  CHECK(a.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 3, 4});

  expect_values(arange(2, 11, 3), {3}, {2, 5, 8});
  expect_values(arange(5, 0, -2), {3}, {5, 3, 1});
  expect_values(arange(0.0, 1.0, 0.25, kFloat32), {4}, {0, 0.25, 0.5, 0.75});
  expect_values(arange(1.0, 2.0, 0.5, kFloat64), {2}, {1.0, 1.5});
  CHECK(arange(3, 3).numel() == 0);
  CHECK(arange(3, 1).numel() == 0);  // an empty range, not an error
  // Like torch.arange: a fractional argument makes the result floating.
  CHECK(arange(0.0, 1.0, 0.25).dtype() == kFloat32);
  expect_values(arange(0.0, 1.0, 0.25), {4}, {0, 0.25, 0.5, 0.75});
  CHECK(arange(0.0, 4.0).dtype() == kInt64);
}

TEST_CASE("creation: linspace includes both ends") {
  expect_values(linspace(0, 1, 5), {5}, {0, 0.25, 0.5, 0.75, 1});
  expect_values(linspace(-1, 1, 3, kFloat64), {3}, {-1, 0, 1});
  expect_values(linspace(3, 7, 1), {1}, {3});
  CHECK(linspace(0, 1, 0).numel() == 0);
}

TEST_CASE("creation: eye") {
  expect_values(eye(3), {3, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1});
  Tensor e = eye(2, kInt64);
  CHECK(e.dtype() == kInt64);
  CHECK(e.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 0, 1});
}

TEST_CASE("creation: from_vector copies the data") {
  std::vector<float> data{1, 2, 3, 4, 5, 6};
  Tensor t = from_vector(data, {2, 3});
  CHECK(t.dtype() == kFloat32);
  CHECK(t.strides() == Dims{3, 1});
  data[0] = 100;  // the tensor owns a copy
  expect_values(t, {2, 3}, {1, 2, 3, 4, 5, 6});

  Tensor d = from_vector(std::vector<double>{0.5, -0.5}, {});  // empty shape means 1-D
  CHECK(d.dtype() == kFloat64);
  expect_values(d, {2}, {0.5, -0.5});

  Tensor i = from_vector(std::vector<std::int64_t>{3, -1, 4}, {3, 1});
  CHECK(i.dtype() == kInt64);
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, -1, 4});

  CHECK_THROWS_WITH_AS(from_vector(std::vector<float>{1, 2, 3}, {2, 2}),
                       doctest::Contains("from_vector"), Error);
}

TEST_CASE("creation: tensor() defaults to float32 and 1-D") {
  Tensor a = tensor({1, 2, 3});
  CHECK(a.dtype() == kFloat32);
  expect_values(a, {3}, {1, 2, 3});

  Tensor b = tensor({1, 2, 3, 4}, {2, 2}, kInt64);
  CHECK(b.dtype() == kInt64);
  CHECK(b.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 3, 4});

  Tensor c = tensor({0, 1, 2}, {}, kBool);
  CHECK(c.dtype() == kBool);
  expect_values(c, {3}, {0, 1, 1});
}

TEST_CASE("creation: to_vector converts and follows the logical (row-major) order") {
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(x.to_vector<double>() == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(x.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6});
  // Transposed: row-major order of the view, not of the storage.
  CHECK(x.t().to_vector<float>() == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(tensor({2.7, -2.7}).to_vector<std::int64_t>() == std::vector<std::int64_t>{2, -2});
}

TEST_CASE("creation: item and to() conversions") {
  CHECK(tensor({3.5}).item() == 3.5);
  CHECK(tensor({7}, {1, 1}, kInt64).item() == 7.0);
  Tensor x = tensor({1.5, -2.5, 0});
  CHECK(x.to(kFloat32).storage() == x.storage());  // same dtype: no copy
  Tensor xi = x.to(kInt64);
  CHECK(xi.dtype() == kInt64);
  CHECK(xi.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -2, 0});
  Tensor xb = x.to(kBool);
  CHECK(xb.dtype() == kBool);
  expect_values(xb, {3}, {1, 1, 0});
  expect_values(xb.to(kFloat64), {3}, {1, 1, 0});
}

// ---------------------------------------------------------------------------------------------
// Random draws

TEST_CASE("random: rand and randn are reproducible with the same seed") {
  Generator g1(42), g2(42), g3(43);
  Tensor a = rand({4, 5}, kFloat32, &g1);
  Tensor b = rand({4, 5}, kFloat32, &g2);
  Tensor c = rand({4, 5}, kFloat32, &g3);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  CHECK(a.to_vector<float>() != c.to_vector<float>());
  for (float v : a.to_vector<float>()) {
    CHECK(v >= 0.0f);
    CHECK(v < 1.0f);
  }

  Tensor n1 = randn({7}, kFloat64, &g1);
  Tensor n2 = randn({7}, kFloat64, &g2);
  Tensor n3 = randn({7}, kFloat64, &g3);
  CHECK(n1.to_vector<double>() == n2.to_vector<double>());
  CHECK(n1.to_vector<double>() != n3.to_vector<double>());
  // A second draw from the same generator continues the stream.
  CHECK(randn({7}, kFloat64, &g1).to_vector<double>() != n1.to_vector<double>());
}

TEST_CASE("random: the default generator is reseeded by manual_seed") {
  manual_seed(123);
  const auto a = rand({6}).to_vector<float>();
  const auto an = randn({5}).to_vector<float>();
  manual_seed(123);
  CHECK(rand({6}).to_vector<float>() == a);
  CHECK(randn({5}).to_vector<float>() == an);
}

TEST_CASE("random: randn has mean about 0 and std about 1") {
  Generator g(7);
  const auto v = randn({10000}, kFloat64, &g).to_vector<double>();
  double m = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  double var = 0;
  for (double x : v) var += (x - m) * (x - m);
  var /= static_cast<double>(v.size());
  // The standard error of the mean is 0.01; of the std about 0.007.
  CHECK(std::abs(m) < 0.05);
  CHECK(std::abs(std::sqrt(var) - 1.0) < 0.05);

  // rand: mean 1/2 and variance 1/12.
  const auto u = rand({10000}, kFloat64, &g).to_vector<double>();
  double um = 0;
  for (double x : u) um += x;
  um /= static_cast<double>(u.size());
  CHECK(std::abs(um - 0.5) < 0.02);
}

TEST_CASE("random: uniform_ and normal_ fill in place, including non-contiguous tensors") {
  Generator g(5);
  Tensor t = zeros({3, 4});
  const auto v0 = t.version();
  uniform_(t, -2.0, -1.0, &g);
  CHECK(t.version() > v0);
  for (float v : t.to_vector<float>()) {
    CHECK(v >= -2.0f);
    CHECK(v < -1.0f);
  }
  // A transposed view: only the view's elements change, all in range.
  Tensor base = zeros({2, 3});
  uniform_(base.t().narrow(0, 0, 2), 10.0, 11.0, &g);
  const auto b = base.to_vector<float>();
  for (int r = 0; r < 2; ++r) {
    CHECK(b[r * 3 + 0] >= 10.0f);
    CHECK(b[r * 3 + 1] >= 10.0f);
    CHECK(b[r * 3 + 2] == 0.0f);  // column 2 was outside the view
  }

  Tensor n = zeros({1000}, kFloat64);
  normal_(n, 5.0, 0.0, &g);  // std 0: every value is the mean
  for (double v : n.to_vector<double>()) CHECK(v == 5.0);
}

TEST_CASE("random: dropout_mask hashes each index with one draw of the generator") {
  // lowbias32 as Wellons' hash-prospector writes it; element i of a mask seeded with s keeps iff
  // the top 24 bits of lowbias32(lowbias32(i + s_lo) ^ s_hi), over 2^24, are below 1 - p.
  auto lowbias32 = [](std::uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
  };
  for (DType dt : {kFloat32, kFloat64})
    for (double p : {0.1, 0.5}) {
      Generator gen(31), copy(31);
      const Tensor mask = dropout_mask({300, 700}, p, dt, &gen);  // 210,000: split by threads
      CHECK(mask.dtype() == dt);
      CHECK(mask.shape() == Dims{300, 700});
      const std::uint64_t seed = copy.next_u64();
      CHECK(gen.next_u64() == copy.next_u64());  // the mask took exactly one draw
      const std::vector<double> got = mask.to(kFloat64).to_vector<double>();
      const double kept = dt == kFloat32 ? static_cast<double>(static_cast<float>(1.0 / (1.0 - p)))
                                         : 1.0 / (1.0 - p);
      std::int64_t mismatches = 0, dropped = 0;
      for (std::size_t i = 0; i < got.size(); ++i) {
        const std::uint32_t h =
            lowbias32(lowbias32(static_cast<std::uint32_t>(i) + static_cast<std::uint32_t>(seed)) ^
                      static_cast<std::uint32_t>(seed >> 32));
        const double u = static_cast<double>(h >> 8) * 0x1.0p-24;
        mismatches += got[i] != (u < 1.0 - p ? kept : 0.0);
        dropped += got[i] == 0.0;
      }
      CHECK(mismatches == 0);
      // 210,000 draws: the standard error of the dropped fraction is below 0.0011.
      CHECK(std::abs(static_cast<double>(dropped) / 210000.0 - p) < 0.006);
      // Neighbours are independent: P(both dropped) = p^2 (standard error below 0.0011).
      std::int64_t both = 0;
      for (std::size_t i = 0; i + 1 < got.size(); i += 2)
        both += got[i] == 0.0 && got[i + 1] == 0.0;
      CHECK(std::abs(static_cast<double>(both) / 105000.0 - p * p) < 0.006);
      // Two threads fill the same mask.
      set_num_threads(2);
      Generator again(31);
      const Tensor two = dropout_mask({300, 700}, p, dt, &again);
      set_num_threads(1);
      CHECK(two.to(kFloat64).to_vector<double>() == got);
    }
  CHECK(amin(dropout_mask({1000}, 0.0)).item() == 1.0);  // p = 0 keeps all
  CHECK_THROWS_WITH_AS(dropout_mask({3}, 1.0), "dropout_mask: probability must be in [0, 1), got 1",
                       Error);
  CHECK_THROWS_WITH_AS(dropout_mask({3}, -0.5),
                       "dropout_mask: probability must be in [0, 1), got -0.5", Error);
}

TEST_CASE("random: randint stays in low..high-1 and hits every value") {
  Generator g(11);
  Tensor r = randint(-2, 3, {2000}, &g);
  CHECK(r.dtype() == kInt64);
  std::set<std::int64_t> seen;
  for (auto v : r.to_vector<std::int64_t>()) {
    CHECK(v >= -2);
    CHECK(v < 3);
    seen.insert(v);
  }
  CHECK(seen == std::set<std::int64_t>{-2, -1, 0, 1, 2});
  Generator a(1), b(1);
  CHECK(randint(0, 100, {20}, &a).to_vector<std::int64_t>() ==
        randint(0, 100, {20}, &b).to_vector<std::int64_t>());
}

TEST_CASE("random: randperm is a permutation") {
  Generator g(3);
  Tensor p = randperm(50, &g);
  CHECK(p.dtype() == kInt64);
  CHECK(p.shape() == Dims{50});
  auto v = p.to_vector<std::int64_t>();
  std::vector<std::int64_t> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 50; ++i) CHECK(sorted[static_cast<std::size_t>(i)] == i);
  // Shuffled: the identity has probability 1/50!.
  std::vector<std::int64_t> identity(50);
  for (std::int64_t i = 0; i < 50; ++i) identity[static_cast<std::size_t>(i)] = i;
  CHECK(v != identity);
  CHECK(randperm(0, &g).numel() == 0);
  CHECK(randperm(1, &g).to_vector<std::int64_t>() == std::vector<std::int64_t>{0});
}

TEST_CASE("random: Generator draws are in range and below() is unbiased enough") {
  Generator g(9);
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 3000; ++i) {
    const auto k = g.below(3);
    REQUIRE(k < 3);
    ++counts[k];
  }
  for (int c : counts) CHECK(std::abs(c - 1000) < 150);
  for (int i = 0; i < 1000; ++i) {
    const double u = g.uniform();
    CHECK(u >= 0.0);
    CHECK(u < 1.0);
  }
}

TEST_CASE("random: saving and restoring the Generator state reproduces the stream") {
  Generator g(2024);
  (void)g.next_u64();
  const auto saved = g.state();
  std::vector<std::uint64_t> first;
  for (int i = 0; i < 5; ++i) first.push_back(g.next_u64());
  g.set_state(saved);
  for (int i = 0; i < 5; ++i) CHECK(g.next_u64() == first[static_cast<std::size_t>(i)]);

  // The same through tensor draws, after an odd number of normals (Box-Muller makes them in pairs).
  Generator h(99);
  (void)randn({3}, kFloat64, &h);
  const auto state = h.state();
  const auto a = randn({5}, kFloat64, &h).to_vector<double>();
  const auto u = rand({4}, kFloat64, &h).to_vector<double>();
  h.set_state(state);
  CHECK(randn({5}, kFloat64, &h).to_vector<double>() == a);
  CHECK(rand({4}, kFloat64, &h).to_vector<double>() == u);

  // A copy of a generator is an independent generator with the same future.
  Generator copy = h;
  CHECK(copy.next_u64() == h.next_u64());

  // Different seeds give different streams; reseeding restarts one.
  Generator s1(1), s2(2);
  CHECK(s1.next_u64() != s2.next_u64());
  Generator s3(1);
  s1.manual_seed(1);
  CHECK(s1.next_u64() == s3.next_u64());
}
