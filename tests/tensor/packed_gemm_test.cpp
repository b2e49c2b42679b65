// The packed GEMM (tensor/packed_gemm.h) and the scope that routes gemm() to it
// (GemmPackingScope, tensor/linalg.h): every product is checked against a float64 triple loop
// written here, over shapes that hit each micro-kernel height (1..6 rows) and width (1..4 panels),
// several row blocks, partial panels, strided and transposed operands and accumulation, on every
// instruction-set path the CPU has (AVX2, AVX-512); then the scope's cache: reuse, in-place
// changes, eviction, nesting. Finally the worker pool behind parallel_for (tensor/parallel.h).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "helpers.h"
#include "tensor/cpu.h"
#include "tensor/packed_gemm.h"
#include "tensor/parallel.h"

using namespace seqgrad;

namespace {

// a @ b in float64, element by element, from the tensors' strides.
std::vector<double> reference_product(const Tensor& a, const Tensor& b) {
  const std::int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  const Tensor a64 = a.to(kFloat64).contiguous(), b64 = b.to(kFloat64).contiguous();
  std::vector<double> c(static_cast<std::size_t>(M * N), 0.0);
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (std::int64_t k = 0; k < K; ++k)
        s += a64.data<double>()[i * K + k] * b64.data<double>()[k * N + j];
      c[static_cast<std::size_t>(i * N + j)] = s;
    }
  return c;
}

// |out - (base + a @ b)| within float32 rounding of a K-term sum of products of N(0, 1) values.
void expect_product(const Tensor& out, const Tensor& a, const Tensor& b,
                    const std::vector<double>& base, const std::string& what) {
  const std::vector<double> want = reference_product(a, b);
  const Tensor got = out.to(kFloat64).contiguous();
  const double tol = 1e-5 * std::sqrt(static_cast<double>(std::max<std::int64_t>(a.size(1), 1)));
  double worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::abs(got.data<double>()[i] - (base[i] + want[i])) /
                                (1.0 + std::abs(base[i] + want[i])));
  CHECK_MESSAGE(worst <= tol, what << ": worst relative error " << worst);
}

std::vector<double> values_of(const Tensor& t) {
  const Tensor c = t.to(kFloat64).contiguous();
  return std::vector<double>(c.data<double>(), c.data<double>() + c.numel());
}

// Every kernel path this CPU has (tensor/cpu.h): each test runs on all of them.
std::vector<CpuPath> kernel_paths() {
  std::vector<CpuPath> paths;
  for (CpuPath p : supported_cpu_paths())
    if (p != CpuPath::kGeneric) paths.push_back(p);
  return paths;
}

struct Threads {  // restores one thread at the end of a test
  explicit Threads(int n) { set_num_threads(n); }
  ~Threads() { set_num_threads(1); }
};

}  // namespace

TEST_CASE("packed gemm: equals a float64 loop for every tile height, partial panels and strides") {
  if (!packed_gemm_available()) return;  // builds without AVX2 + FMA always use OpenBLAS
  for (CpuPath path : kernel_paths()) {
    const ScopedCpuPath on(path);
    INFO("path ", cpu_path_name(path));
    Generator gen(7);
    for (std::int64_t M : {1, 2, 3, 4, 5, 6, 7, 13, 64, 96, 97, 191})  // row blocks of 96
      for (std::int64_t N : {1, 15, 16, 17, 40, 64, 65, 100})
        for (std::int64_t K : {1, 3, 64, 257}) {
          const std::string shape = fmt::format("M={} N={} K={}", M, N, K);
          const Tensor a = randn({M, K}, kFloat32, &gen);
          // b as a weight's transpose (column stride K), as recurrent kernels pass it ...
          const Tensor w = randn({N, K}, kFloat32, &gen);
          Tensor out = Tensor::empty({M, N});
          gemm_packed(a, PackedMatrix(w.t()), out, false);
          expect_product(out, a, w.t(), std::vector<double>(static_cast<std::size_t>(M * N)),
                         shape + " b = w^T");
          // ... and as a plain row-major matrix, accumulating into out.
          const Tensor b = randn({K, N}, kFloat32, &gen);
          const std::vector<double> base = values_of(out);
          gemm_packed(a, PackedMatrix(b), out, true);
          expect_product(out, a, b, base, shape + " accumulate");
          // ... and with a bias on top of the accumulation.
          const Tensor bias = randn({N}, kFloat32, &gen);
          std::vector<double> with_bias = values_of(out);
          const std::vector<double> bias_values = values_of(bias);
          for (std::size_t i = 0; i < with_bias.size(); ++i)
            with_bias[i] += bias_values[i % static_cast<std::size_t>(N)];
          gemm_packed(a, PackedMatrix(b), out, true, false, bias);
          expect_product(out, a, b, with_bias, shape + " accumulate + bias");
        }
  }
}

TEST_CASE("packed gemm: a packed beforehand (PackedRows) gives the product, rows of any strides") {
  if (!packed_gemm_available()) return;
  for (CpuPath path : kernel_paths()) {
    const ScopedCpuPath on(path);
    INFO("path ", cpu_path_name(path));
    Generator gen(23);
    for (std::int64_t M : {1, 5, 6, 7, 96, 97, 200})
      for (std::int64_t K : {1, 15, 16, 17, 40, 288}) {
        const std::int64_t N = 37;
        const Tensor row_major = randn({M, K}, kFloat32, &gen);
        const Tensor transposed = randn({K, M}, kFloat32, &gen).t();  // lda 1, the dW^T case
        const Tensor b = randn({K, N}, kFloat32, &gen);
        for (const Tensor& a : {row_major, transposed}) {
          const std::string what = fmt::format("M={} K={} a strides {}", M, K, a.strides());
          const PackedRows packed(a);
          CHECK(packed.rows() == M);
          CHECK(packed.cols() == K);
          Tensor out = Tensor::empty({M, N});
          gemm_packed(packed, PackedMatrix(b), out, false);
          expect_product(out, a, b, std::vector<double>(static_cast<std::size_t>(M * N)), what);
          const std::vector<double> base = values_of(out);
          const Threads two(2);
          gemm_packed(packed, PackedMatrix(b), out, true, true);  // accumulate, split in two
          expect_product(out, a, b, base, what + " accumulate, 2 threads");
        }
      }
  }
  Generator gen(24);
  const PackedRows a(randn({3, 4}, kFloat32, &gen));
  Tensor out = Tensor::empty({3, 5});
  CHECK_THROWS_WITH_AS(gemm_packed(a, PackedMatrix(randn({6, 5}, kFloat32, &gen)), out, false),
                       "gemm_packed: shapes packed [3, 4] @ [6, 5] -> [3, 5] do not match", Error);
  CHECK_THROWS_WITH_AS(PackedRows(randn({3}, kFloat32, &gen)),
                       "PackedRows: expects a 2-D float32 tensor, got [3] float32", Error);
}

TEST_CASE("packed gemm: b with no unit stride, and b of one row or one column") {
  if (!packed_gemm_available()) return;
  for (CpuPath path : kernel_paths()) {
    const ScopedCpuPath on(path);
    INFO("path ", cpu_path_name(path));
    Generator gen(22);
    const Tensor big = randn({40, 90}, kFloat32, &gen);
    const Tensor a = randn({9, 13}, kFloat32, &gen);
    for (const Tensor& b : {big.slice(0, 0, 26, 2).slice(1, 0, 51, 3),  // [13, 17], strides 180, 3
                            big.slice(0, 0, 34, 2).slice(1, 1, 40, 3).t(),  // [13, 17]^T
                            big.slice(1, 0, 39, 3).narrow(0, 0, 13).narrow(1, 0, 1)}) {  // [13, 1]
      Tensor out = Tensor::empty({9, b.size(1)});
      gemm_packed(a, PackedMatrix(b), out, false);
      expect_product(out, a, b, std::vector<double>(static_cast<std::size_t>(9 * b.size(1))),
                     fmt::format("b {} strides {}", b.shape(), b.strides()));
    }
    // One row of K = 1 with a column stride: a row vector read from a column of big.
    const Tensor row = big.narrow(1, 5, 1).narrow(0, 0, 20).t();  // [1, 20], strides (1, 90)
    const Tensor a1 = randn({7, 1}, kFloat32, &gen);
    Tensor out = Tensor::empty({7, 20});
    gemm_packed(a1, PackedMatrix(row), out, false);
    expect_product(out, a1, row, std::vector<double>(140), "b [1, 20] with column stride 90");
  }
}

TEST_CASE("packed gemm: rows of a wider matrix in and out (leading dimensions above K and N)") {
  if (!packed_gemm_available()) return;
  for (CpuPath path : kernel_paths()) {
    const ScopedCpuPath on(path);
    INFO("path ", cpu_path_name(path));
    Generator gen(8);
    const Tensor big_a = randn({9, 50}, kFloat32, &gen), b = randn({30, 20}, kFloat32, &gen);
    const Tensor a = big_a.narrow(1, 5, 30);  // [9, 30], row stride 50
    const Tensor big_out = zeros({9, 64}), out = big_out.narrow(1, 4, 20);  // row stride 64
    gemm_packed(a, PackedMatrix(b), out, false);
    expect_product(out, a, b, std::vector<double>(9 * 20), "strided a and out");
    // The columns around the window are untouched.
    const Tensor outside = big_out.narrow(1, 24, 40);
    CHECK(values_of(outside) == std::vector<double>(9 * 40, 0.0));
    CHECK(values_of(big_out.narrow(1, 0, 4)) == std::vector<double>(9 * 4, 0.0));
  }
}

TEST_CASE("packed gemm: a transposed left operand (the weight gradients' a^T @ b)") {
  Generator gen(23);
  for (CpuPath path : kernel_paths()) {
    const ScopedCpuPath on(path);
    INFO("path ", cpu_path_name(path));
    for (std::int64_t M : {5, 64, 130}) {
      const Tensor stored = randn({70, M}, kFloat32, &gen), b = randn({70, 33}, kFloat32, &gen);
      const Tensor a = stored.t();  // [M, 70], strides (1, M)
      Tensor out = Tensor::empty({M, 33});
      gemm_packed(a, PackedMatrix(b), out, false);
      expect_product(out, a, b, std::vector<double>(static_cast<std::size_t>(M * 33)),
                     fmt::format("a^T, M={}", M));
    }
  }
}

TEST_CASE("packed gemm: split over 2 and 3 threads gives the same bits as one") {
  if (!packed_gemm_available()) return;
  for (CpuPath path : kernel_paths()) {
    const ScopedCpuPath on(path);
    INFO("path ", cpu_path_name(path));
    Generator gen(9);
    for (std::int64_t M : {64, 250}) {  // split by panels; by row blocks and panels
      const Tensor a = randn({M, 96}, kFloat32, &gen), w = randn({200, 96}, kFloat32, &gen);
      const PackedMatrix p(w.t());
      Tensor serial = Tensor::empty({M, 200});
      gemm_packed(a, p, serial, false);
      expect_product(serial, a, w.t(), std::vector<double>(static_cast<std::size_t>(M * 200)),
                     "serial");
      for (int n : {2, 3}) {
        Threads threads(n);
        Tensor split = Tensor::empty({M, 200});
        gemm_packed(a, p, split, false, true);
        CHECK_MESSAGE(values_of(split) == values_of(serial), M << " rows, " << n << " threads");
      }
    }
  }
}

TEST_CASE("packing a large matrix split over threads gives the same panels as one thread") {
  if (!packed_gemm_available()) return;  // SEQGRAD_CPU=generic: OpenBLAS does every product
  // 520 x 515 = 267,800 values: above the split threshold (2^18), with a partial last panel.
  Generator gen(10);
  const Tensor w = randn({520, 515}, kFloat32, &gen);
  for (const Tensor& b : {w, w.t()}) {  // row by row; column by column
    const PackedMatrix serial(b);
    for (int n : {2, 3}) {
      Threads threads(n);
      const PackedMatrix split(b);
      REQUIRE(split.panels() == serial.panels());
      bool same = true;
      for (std::int64_t p = 0; p < serial.panels(); ++p)
        same = same &&
               std::equal(serial.panel(p), serial.panel(p) + serial.rows() * 16, split.panel(p));
      CHECK_MESSAGE(same, n << " threads, b " << b.size(0) << " x " << b.size(1));
    }
    // And the panels hold b: one product against the float64 loop.
    const Tensor a = randn({7, b.size(0)}, kFloat32, &gen);
    Tensor out = Tensor::empty({7, b.size(1)});
    gemm_packed(a, serial, out, false);
    expect_product(out, a, b, std::vector<double>(static_cast<std::size_t>(7 * b.size(1))),
                   "packed large");
  }
}

TEST_CASE("packed gemm: K = 0 gives zeros, and beta 0 never reads the output") {
  if (!packed_gemm_available()) return;
  Tensor out = full({3, 20}, std::nan(""));
  gemm_packed(Tensor::empty({3, 0}), PackedMatrix(Tensor::empty({0, 20})), out, false);
  CHECK(values_of(out) == std::vector<double>(60, 0.0));
  Generator gen(16);
  const Tensor a = randn({3, 5}, kFloat32, &gen), b = randn({5, 20}, kFloat32, &gen);
  out.fill_(std::nan(""));
  gemm_packed(a, PackedMatrix(b), out, false);
  expect_product(out, a, b, std::vector<double>(60), "NaN-filled out, beta 0");
}

TEST_CASE("packed gemm: errors name the operation and the shapes") {
  Generator gen(10);
  CHECK_THROWS_WITH_AS(PackedMatrix(randn({3, 4}, kFloat64, &gen)),
                       "PackedMatrix: expects a 2-D float32 tensor, got [3, 4] float64", Error);
  if (!packed_gemm_available()) return;
  const PackedMatrix p(randn({4, 5}, kFloat32, &gen));
  Tensor out = Tensor::empty({2, 5});
  CHECK_THROWS_WITH_AS(gemm_packed(randn({2, 3}), p, out, false),
                       "gemm_packed: shapes [2, 3] @ [4, 5] -> [2, 5] do not match", Error);
  Tensor strided_out = Tensor::empty({5, 2}).t();  // [2, 5] with column stride 2
  CHECK_THROWS_WITH_AS(gemm_packed(randn({2, 4}), p, strided_out, false),
                       "gemm_packed: out needs unit stride along its last dim, got strides [1, 2]",
                       Error);
}

TEST_CASE("packing scope: gemm inside equals gemm outside, with and without accumulation") {
  Generator gen(11);
  const Tensor x = randn({64, 48}, kFloat32, &gen), w = randn({80, 48}, kFloat32, &gen);
  const Tensor plain = mm(x, w.t());
  const GemmPackingScope packing;
  for (int step = 0; step < 3; ++step) {  // steps 2 and 3 reuse the packed w^T
    Tensor out = Tensor::empty({64, 80});
    gemm(x, w.t(), out);
    expect_product(out, x, w.t(), std::vector<double>(64 * 80), "step " + std::to_string(step));
    const std::vector<double> base = values_of(out);
    gemm(x, w.t(), out, 1.0, 1.0);
    expect_product(out, x, w.t(), base, "accumulate");
  }
  // alpha != 1 and beta outside {0, 1} take OpenBLAS's path, still right.
  Tensor out = ones({64, 80});
  gemm(x, w.t(), out, 2.0, 0.5);
  std::vector<double> want = values_of(plain);
  for (double& v : want) v = 2 * v + 0.5;
  const std::vector<double> got = values_of(out);
  for (std::size_t i = 0; i < want.size(); ++i)
    REQUIRE(got[i] == doctest::Approx(want[i]).epsilon(1e-4));
}

TEST_CASE("packing scope: one row (a decoding step at batch 1) times either layout of b") {
  // A single row times b, whichever way the product runs: on the AVX-512 path a transposed b (a
  // weight W^T) is read as it lies, without packing; other layouts and paths pack. Covers padded
  // rows (a narrowed matrix), a strided row of a, N or K of 1, accumulation, and the same operand
  // again (no kept copy to go stale).
  Generator gen(13);
  const GemmPackingScope packing;
  for (const auto& [K, N] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {1, 1}, {1, 7}, {7, 1}, {33, 70}, {256, 1024}})
    for (bool transposed : {true, false})
      for (bool padded : {false, true}) {
        const std::int64_t pad = padded ? 5 : 0;
        const Tensor storage =
            transposed ? randn({N, K + pad}, kFloat32, &gen) : randn({K, N + pad}, kFloat32, &gen);
        const Tensor b = transposed ? storage.narrow(1, 0, K).t() : storage.narrow(1, 0, N);
        const Tensor rows = randn({3, K + pad}, kFloat32, &gen);
        const Tensor a = rows.narrow(0, 1, 1).narrow(1, padded ? 2 : 0, K);
        const std::string shape = fmt::format(
            "K={} N={} {}{}", K, N, transposed ? "W^T" : "row-major", padded ? " padded" : "");
        for (int step = 0; step < 2; ++step) {
          Tensor out = full({1, N}, std::nan(""));
          gemm(a, b, out);
          expect_product(out, a, b, std::vector<double>(static_cast<std::size_t>(N)), shape);
          const std::vector<double> base = values_of(out);
          gemm(a, b, out, 1.0, 1.0);
          expect_product(out, a, b, base, shape + " accumulate");
          const Tensor bias = randn({N}, kFloat32, &gen);
          out.fill_(std::nan(""));
          addmm(bias, a, b, out);
          expect_product(out, a, b, values_of(bias), shape + " bias");
        }
      }
}

TEST_CASE("packing scope: an operand written in place is packed again") {
  Generator gen(12);
  const Tensor x = randn({8, 16}, kFloat32, &gen), w = randn({16, 24}, kFloat32, &gen);
  const GemmPackingScope packing;
  Tensor out = Tensor::empty({8, 24});
  gemm(x, w, out);
  expect_product(out, x, w, std::vector<double>(8 * 24), "first");
  w.mul_(3.0);  // bumps the storage's version
  gemm(x, w, out);
  expect_product(out, x, w, std::vector<double>(8 * 24), "after w *= 3");
  w.narrow(0, 2, 5).fill_(0.25);  // through a view: the same storage, the same version counter
  gemm(x, w, out);
  expect_product(out, x, w, std::vector<double>(8 * 24), "after writing a view of w");
}

TEST_CASE("packing scope: many short-lived operands (evicted, addresses reused) stay correct") {
  Generator gen(13);
  const Tensor x = randn({5, 12}, kFloat32, &gen);
  const GemmPackingScope packing;
  for (int i = 0; i < 100; ++i) {  // more operands than the cache has slots
    const Tensor w = randn({12, 7}, kFloat32, &gen);
    Tensor out = Tensor::empty({5, 7});
    gemm(x, w, out);
    expect_product(out, x, w, std::vector<double>(5 * 7), "operand " + std::to_string(i));
  }
}

TEST_CASE("packing scope: operands differing only by strides or offset are kept apart") {
  Generator gen(17);
  const Tensor x = randn({6, 8}, kFloat32, &gen), w = randn({8, 8}, kFloat32, &gen);
  const Tensor big = randn({16, 8}, kFloat32, &gen);
  const GemmPackingScope packing;
  Tensor out = Tensor::empty({6, 8});
  for (int round = 0; round < 3; ++round)  // each operand comes back: all are kept packed
    for (const Tensor& b : {w, w.t(), big.narrow(0, 0, 8), big.narrow(0, 8, 8)}) {
      gemm(x, b, out);
      expect_product(out, x, b, std::vector<double>(48), "round " + std::to_string(round));
    }
}

TEST_CASE("packing scope: a weight kept across many other operands, then changed") {
  Generator gen(18);
  const Tensor x = randn({5, 12}, kFloat32, &gen), w = randn({12, 7}, kFloat32, &gen);
  const GemmPackingScope packing;
  Tensor out = Tensor::empty({5, 7});
  for (int i = 0; i < 80; ++i) {
    gemm(x, w, out);  // w comes back every time: the least recently used entry is never w
    expect_product(out, x, w, std::vector<double>(35), "w at " + std::to_string(i));
    const Tensor other = randn({12, 7}, kFloat32, &gen);
    gemm(x, other, out);
    gemm(x, other, out);  // kept too, and evicted later
    expect_product(out, x, other, std::vector<double>(35), "other " + std::to_string(i));
    if (i == 50) w.add_(1.0);
  }
}

TEST_CASE("packing scope: keep() packs a weight before its first use, and sees later writes") {
  if (!packed_gemm_available()) return;  // SEQGRAD_CPU=generic: OpenBLAS does every product
  Generator gen(20);
  const Tensor x = randn({7, 12}, kFloat32, &gen), w = randn({9, 12}, kFloat32, &gen);
  const GemmPackingScope packing;
  packing.keep(w.t());  // as a recurrent kernel does before its first step
  Tensor out = Tensor::empty({7, 9});
  // Packing allocates a buffer; a kept operand's first product needs none. (A view such as w.t()
  // allocates nothing either.) An operand not kept packs a temporary on its first use.
  const std::uint64_t before = allocator_stats().allocations;
  gemm(x, w.t(), out);
  CHECK(allocator_stats().allocations == before);
  const Tensor other = randn({9, 12}, kFloat32, &gen);
  const std::uint64_t before_other = allocator_stats().allocations;
  gemm(x, other.t(), out);
  CHECK(allocator_stats().allocations > before_other);
  for (int step = 0; step < 3; ++step) {
    gemm(x, w.t(), out);
    expect_product(out, x, w.t(), std::vector<double>(63), "step " + std::to_string(step));
    if (step == 1) w.mul_(-2.0);  // written between steps: packed again
  }
  packing.keep(w.t());  // kept already: nothing changes
  gemm(x, w.t(), out);
  expect_product(out, x, w.t(), std::vector<double>(63), "after a second keep");
  const Tensor w64 = randn({9, 12}, kFloat64, &gen);
  packing.keep(w64.t());  // float64 always runs on OpenBLAS: keep() has nothing to do
  Tensor out64 = Tensor::empty({7, 9}, kFloat64);
  gemm(x.to(kFloat64), w64.t(), out64);
  expect_product(out64, x.to(kFloat64), w64.t(), std::vector<double>(63), "float64");
  CHECK_THROWS_WITH_AS(packing.keep(randn({3}, kFloat32, &gen)),
                       "GemmPackingScope::keep: expects a 2-D right operand, got [3]", Error);
}

TEST_CASE("addmm: bias + a @ b inside and outside a packing scope, partial panels, float64") {
  Generator gen(21);
  for (std::int64_t N : {1, 16, 17, 40})
    for (std::int64_t M : {1, 7, 64}) {
      const Tensor x = randn({M, 24}, kFloat32, &gen), w = randn({N, 24}, kFloat32, &gen);
      const Tensor bias = randn({N}, kFloat32, &gen);
      std::vector<double> base(static_cast<std::size_t>(M * N));
      const std::vector<double> bias_values = values_of(bias);
      for (std::size_t i = 0; i < base.size(); ++i)
        base[i] = bias_values[i % static_cast<std::size_t>(N)];
      const std::string shape = fmt::format("M={} N={}", M, N);
      Tensor out = full({M, N}, std::nan(""));  // never read: the result starts from the bias
      addmm(bias, x, w.t(), out);
      expect_product(out, x, w.t(), base, shape + " outside");
      const GemmPackingScope packing;
      for (int step = 0; step < 2; ++step) {  // a temporary, then the kept copy
        out.fill_(std::nan(""));
        addmm(bias, x, w.t(), out);
        expect_product(out, x, w.t(), base, shape + " inside, step " + std::to_string(step));
      }
      const Tensor out64 = Tensor::empty({M, N}, kFloat64);
      addmm(bias.to(kFloat64), x.to(kFloat64), w.t().to(kFloat64), out64);
      expect_product(out64, x.to(kFloat64), w.t().to(kFloat64), base, shape + " float64");
    }
  Tensor out = Tensor::empty({2, 3});
  CHECK_THROWS_WITH_AS(addmm(zeros({4}), zeros({2, 5}), zeros({5, 3}), out),
                       "addmm: bias must be a float32 vector of 3 values (the columns of [2, 3]), "
                       "got [4] float32",
                       Error);
  CHECK_THROWS_WITH_AS(addmm(zeros({3}), zeros({2, 5}), zeros({4, 3}), out),
                       "addmm: shapes [2, 5] @ [4, 3] -> [2, 3] do not match", Error);
}

TEST_CASE("packing scope: gemm inside a parallel loop equals gemm outside it") {
  Generator gen(19);
  const Tensor x = randn({4, 16, 32}, kFloat32, &gen), w = randn({32, 24}, kFloat32, &gen);
  Tensor serial = Tensor::empty({4, 16, 24});
  for (std::int64_t i = 0; i < 4; ++i) gemm(x.select(0, i), w, serial.select(0, i));
  Threads threads(2);
  const GemmPackingScope packing;
  Tensor split = Tensor::empty({4, 16, 24});
  const BlasSingleThreaded one_blas_thread;  // as the CNN runs its per-sample GEMMs
  parallel_for(4, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) gemm(x.select(0, i), w, split.select(0, i));
  });
  CHECK(values_of(split) == values_of(serial));  // every chunk on OpenBLAS, as outside the scope
}

TEST_CASE("packing scope: nested scopes share the cache, and a new scope starts empty") {
  Generator gen(14);
  const Tensor x = randn({4, 10}, kFloat32, &gen), w = randn({10, 6}, kFloat32, &gen);
  Tensor out = Tensor::empty({4, 6});
  {
    const GemmPackingScope outer;
    gemm(x, w, out);
    {
      const GemmPackingScope inner;
      gemm(x, w, out);
      expect_product(out, x, w, std::vector<double>(24), "inner");
    }
    gemm(x, w, out);
    expect_product(out, x, w, std::vector<double>(24), "outer after inner");
  }
  // After the scopes end, w changes; a new scope multiplies by the new values.
  w.fill_(1.0);
  const GemmPackingScope again;
  gemm(x, w, out);
  expect_product(out, x, w, std::vector<double>(24), "new scope");
}

TEST_CASE("packing scope: split over threads inside a scope equals the serial product") {
  if (!packed_gemm_available()) return;  // SEQGRAD_CPU=generic: OpenBLAS does every product
  Generator gen(15);
  const Tensor x = randn({64, 128}, kFloat32, &gen), w = randn({256, 128}, kFloat32, &gen);
  const GemmPackingScope packing;
  Tensor one = Tensor::empty({64, 256});
  gemm(x, w.t(), one);
  Threads threads(2);
  REQUIRE(get_num_threads() == 2);  // else gemm would not split
  Tensor two = Tensor::empty({64, 256});
  gemm(x, w.t(), two);  // 4.2 MFLOP: split between the two threads
  CHECK(values_of(two) == values_of(one));
}

TEST_CASE("worker pool: every index once, chunks numbered, nested loops and two callers") {
  Threads threads(3);
  for (std::int64_t n : {1, 2, 3, 10, 1000}) {
    std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
    std::atomic<int> chunks_seen{0};
    parallel_for_chunks(n, [&](int chunk, std::int64_t b, std::int64_t e) {
      chunks_seen.fetch_or(1 << chunk);
      for (std::int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
    });
    for (auto& h : hits) REQUIRE(h.load() == 1);
    CHECK(chunks_seen.load() == (1 << parallel_chunks(n)) - 1);
  }
  // A loop inside a chunk (the pool is busy: it starts its own threads).
  std::atomic<std::int64_t> total{0};
  parallel_for(6, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i)
      parallel_for(100, [&](std::int64_t b2, std::int64_t e2) { total += e2 - b2; });
  });
  CHECK(total.load() == 600);
  // Two threads of the caller's own issuing loops at the same time, many times over.
  std::atomic<std::int64_t> sum{0};
  auto caller = [&] {
    for (int r = 0; r < 200; ++r)
      parallel_for(64, [&](std::int64_t b, std::int64_t e) { sum += e - b; });
  };
  std::thread other(caller);
  caller();
  other.join();
  CHECK(sum.load() == 2 * 200 * 64);
}

TEST_CASE("worker pool: an exception in any chunk reaches the caller, and the pool goes on") {
  Threads threads(2);
  for (int throwing_chunk : {0, 1}) {
    CAPTURE(throwing_chunk);
    CHECK_THROWS_WITH_AS(parallel_for_chunks(10,
                                             [&](int chunk, std::int64_t, std::int64_t) {
                                               if (chunk == throwing_chunk)
                                                 fail("chunk {} failed", chunk);
                                             }),
                         fmt::format("chunk {} failed", throwing_chunk).c_str(), Error);
  }
  std::atomic<std::int64_t> covered{0};
  parallel_for(100, [&](std::int64_t b, std::int64_t e) { covered += e - b; });
  CHECK(covered.load() == 100);
}
