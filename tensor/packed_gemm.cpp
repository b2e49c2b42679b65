#include "tensor/packed_gemm.h"

#include <algorithm>
#include <vector>

#include "tensor/parallel.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define SEQGRAD_PACKED_GEMM 1
#endif

namespace seqgrad {

PackedMatrix::PackedMatrix(std::int64_t rows, std::int64_t cols) : rows_(rows), cols_(cols) {
  check(rows >= 0 && cols >= 0, "PackedMatrix: negative size {} x {}", rows, cols);
  data_ = Tensor::empty({panels(), rows_, kPanel}, kFloat32);
}

PackedMatrix::PackedMatrix(const Tensor& b) {
  check(b.defined() && b.dim() == 2 && b.dtype() == kFloat32,
        "PackedMatrix: expects a 2-D float32 tensor, got {} {}", b.defined() ? b.shape() : Dims{},
        b.defined() ? b.dtype() : kFloat32);
  rows_ = b.size(0);
  cols_ = b.size(1);
  data_ = Tensor::empty({panels(), rows_, kPanel}, kFloat32);
  const std::int64_t sk = b.stride(0), sn = cols_ == 1 ? 1 : b.stride(1);
  const float* src = b.data<float>();
  float* dst = data_.data<float>();
  const std::int64_t full = cols_ / kPanel, tail = cols_ - full * kPanel;  // full panels, rest
  if (tail > 0) std::fill_n(dst + full * rows_ * kPanel, rows_ * kPanel, 0.0f);
  // The loop order follows b's layout, so that the reads run along memory: row by row for a
  // row-major b (each row dealt out to every panel), column by column for a weight's transpose
  // (W^T, the recurrent kernels' case).
  // Split between threads from 256K values (a 1 MiB weight) up: a decoding batch at hidden 512
  // packs about 48 MiB of weights, too much to leave to one thread while the other waits.
  const auto split = [&](std::int64_t n, auto&& f) {
    if (rows_ * cols_ >= (std::int64_t{1} << 18) && !detail::inside_parallel_body())
      parallel_for(n, f);
    else
      f(std::int64_t{0}, n);
  };
  if (sn == 1) {
    split(rows_, [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t k = first; k < last; ++k) {
        const float* row = src + k * sk;
        for (std::int64_t p = 0; p < full; ++p)  // a fixed-size copy: two vector moves
          std::copy_n(row + p * kPanel, kPanel, dst + (p * rows_ + k) * kPanel);
        if (tail > 0) std::copy_n(row + full * kPanel, tail, dst + (full * rows_ + k) * kPanel);
      }
    });
    return;
  }
  split(cols_, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t n = first; n < last; ++n) {
      const float* column = src + n * sn;
      float* out = dst + (n / kPanel) * rows_ * kPanel + n % kPanel;
      for (std::int64_t k = 0; k < rows_; ++k) out[k * kPanel] = column[k * sk];
    }
  });
}

#ifdef SEQGRAD_PACKED_GEMM

bool packed_gemm_available() { return true; }

namespace {

constexpr std::int64_t kGroup = 6;  // rows of a per micro-kernel call

// One product's operands as the kernels see them: c = a @ b (+ c when `accumulate`) (+ bias).
struct Product {
  const float* a;
  std::int64_t lda, a_col_stride;
  const PackedMatrix* b;
  float* c;
  std::int64_t ldc;
  bool accumulate;
  const float* bias;  // null, or b.cols() values added to every row of c
};

// Rows [i0, i1) of a copied into `dst` in groups of kGroup rows, each group stored k by k
// ([K][kGroup]; a last group's missing rows are left as they are and never read). The
// micro-kernel then broadcasts its a values from one stream that advances 24 bytes per k instead
// of from six rows lda apart: on the recurrent products (K = 512) that took 0.70 -> 0.61 of
// cblas_sgemm's time at one thread. The copy is K values per row against K*N multiply-adds.
void pack_rows(const Product& p, std::int64_t i0, std::int64_t i1, float* dst) {
  const std::int64_t K = p.b->rows(), lda = p.lda, sk = p.a_col_stride;
  for (std::int64_t g = i0; g < i1; g += kGroup, dst += K * kGroup) {
    const float* rows = p.a + g * lda;
    const std::int64_t n = std::min(kGroup, i1 - g);
    for (std::int64_t k = 0; k < K; ++k)  // writes in order, reads n streams
      for (std::int64_t r = 0; r < n; ++r) dst[k * kGroup + r] = rows[r * lda + k * sk];
  }
}

// Rows [i, i + R) of a times one K x 16 panel (c's columns n0 .. n0 + width - 1) into R x 16
// accumulators: 2R of the 16 ymm registers hold the accumulators, 2 the panel's row, 1 the
// broadcast element of a (read from a's packed group, see pack_rows). The accumulators start from
// `init` (16 values, the bias) or zero.
//
// Along the way it prefetches `prefetch_lines` cache lines from `prefetch` (part of the panel the
// next call will read), one line every K / prefetch_lines steps. Why: the weights of a recurrent
// step (12 MiB for a 2-layer LSTM at hidden 512) do not stay in cache between steps, and the
// hardware prefetcher does not run far enough ahead of a kernel that reads a new 64-byte line
// every 6 cycles; the first rows to meet a panel then wait on memory. So the next panel is fetched
// while this one is computed.
template <int R>
void micro_kernel(const Product& p, std::int64_t i, const float* a, const float* panel,
                  std::int64_t n0, std::int64_t width, const float* init, const float* prefetch,
                  std::int64_t prefetch_lines) {
  const std::int64_t K = p.b->rows(), ldc = p.ldc;  // a: rows i .. i+R-1 packed, [K][kGroup]
  float* c = p.c + i * ldc + n0;
  const __m256 init_lo = init ? _mm256_loadu_ps(init) : _mm256_setzero_ps();
  const __m256 init_hi = init ? _mm256_loadu_ps(init + 8) : _mm256_setzero_ps();
  __m256 lo[R], hi[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    lo[r] = init_lo;
    hi[r] = init_hi;
  }
  const std::int64_t chunk = prefetch_lines > 0 ? std::max<std::int64_t>(1, K / prefetch_lines) : K;
  for (std::int64_t k0 = 0; k0 < K; k0 += chunk) {
    if (prefetch_lines > 0) {
      _mm_prefetch(reinterpret_cast<const char*>(prefetch), _MM_HINT_T0);
      prefetch += 16;  // one panel row is one 64-byte line
      --prefetch_lines;
    }
    const std::int64_t k1 = std::min(K, k0 + chunk);
#pragma GCC unroll 4  // 5-10% on M = 64 products: fewer loop branches between the FMAs
    for (std::int64_t k = k0; k < k1; ++k) {
      const __m256 b0 = _mm256_loadu_ps(panel + k * 16), b1 = _mm256_loadu_ps(panel + k * 16 + 8);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256 x = _mm256_broadcast_ss(a + k * kGroup + r);
        lo[r] = _mm256_fmadd_ps(x, b0, lo[r]);
        hi[r] = _mm256_fmadd_ps(x, b1, hi[r]);
      }
    }
  }
  // Every loop over r is unrolled: an indexed loop would force the accumulators onto the stack.
  if (width == 16) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      float* cr = c + r * ldc;
      if (p.accumulate) {
        lo[r] = _mm256_add_ps(lo[r], _mm256_loadu_ps(cr));
        hi[r] = _mm256_add_ps(hi[r], _mm256_loadu_ps(cr + 8));
      }
      _mm256_storeu_ps(cr, lo[r]);
      _mm256_storeu_ps(cr + 8, hi[r]);
    }
    return;
  }
  alignas(32) float tile[16];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    float* cr = c + r * ldc;
    _mm256_store_ps(tile, lo[r]);
    _mm256_store_ps(tile + 8, hi[r]);
    for (std::int64_t j = 0; j < width; ++j) cr[j] = p.accumulate ? cr[j] + tile[j] : tile[j];
  }
}

using MicroKernel = void (*)(const Product&, std::int64_t, const float*, const float*, std::int64_t,
                             std::int64_t, const float*, const float*, std::int64_t);
constexpr MicroKernel kMicroKernels[] = {nullptr,         micro_kernel<1>, micro_kernel<2>,
                                         micro_kernel<3>, micro_kernel<4>, micro_kernel<5>,
                                         micro_kernel<6>};
constexpr std::int64_t kMaxRows = kGroup;  // 12 accumulators: the widest tile that fits

// Rows [i0, i1) times panel pi: the panel stays in L1/L2 while the rows pass over it, kMaxRows
// at a time. Each pass prefetches its share of `next_panel` (the panel the next tile reads, or
// null).
void tile(const Product& p, std::int64_t i0, std::int64_t i1, const float* a_block, std::int64_t pi,
          const float* next_panel) {
  const std::int64_t K = p.b->rows();
  const std::int64_t n0 = pi * 16, width = std::min<std::int64_t>(16, p.b->cols() - n0);
  alignas(32) float init[16] = {};  // the bias under this panel, zero-padded past width
  if (p.bias) std::copy_n(p.bias + n0, width, init);
  const std::int64_t passes = (i1 - i0 + kMaxRows - 1) / kMaxRows;
  const std::int64_t lines_per_pass = next_panel ? (K + passes - 1) / passes : 0;
  for (std::int64_t i = i0, pass = 0; i < i1; i += kMaxRows, ++pass) {
    const std::int64_t rows = std::min(kMaxRows, i1 - i);
    const std::int64_t first_line = std::min(K, pass * lines_per_pass);
    const std::int64_t lines = std::min(K, first_line + lines_per_pass) - first_line;
    kMicroKernels[rows](p, i, a_block + pass * K * kGroup, p.b->panel(pi), n0, width,
                        p.bias ? init : nullptr,
                        next_panel ? next_panel + first_line * 16 : nullptr, lines);
  }
}

// The product is cut into blocks of kRowBlock rows times one panel, numbered row block by row
// block: a batch of 64 rows is one row block, so the work is split by panels; a long input
// projection (T*B rows) keeps each block of its rows in L2 while all panels pass over it.
constexpr std::int64_t kRowBlock = 96;
static_assert(kRowBlock % kGroup == 0, "a row block starts a packed group of a");

// Each thread packs the row blocks of a it meets (pack_rows) into its own buffer, grown to
// kRowBlock x K once and then reused: no allocation in the steady state, and at two threads no
// serial packing before the split (a batch of 64 rows is packed by both threads, in parallel).
void blocks_range(const Product& p, std::int64_t M, std::int64_t first, std::int64_t last) {
  thread_local std::vector<float> a_block;
  const std::int64_t panels = p.b->panels(), K = p.b->rows();
  if (static_cast<std::int64_t>(a_block.size()) < kRowBlock * K)
    a_block.resize(static_cast<std::size_t>(kRowBlock * K));
  std::int64_t packed_block = -1;
  for (std::int64_t blk = first; blk < last; ++blk) {
    const std::int64_t row_block = blk / panels, i0 = row_block * kRowBlock;
    const std::int64_t i1 = std::min(M, i0 + kRowBlock);
    if (row_block != packed_block) {
      pack_rows(p, i0, i1, a_block.data());
      packed_block = row_block;
    }
    const float* next_panel = blk + 1 < last ? p.b->panel((blk + 1) % panels) : nullptr;
    tile(p, i0, i1, a_block.data(), blk % panels, next_panel);
  }
}

}  // namespace

void gemm_packed(const Tensor& a, const PackedMatrix& b, const Tensor& out, bool accumulate,
                 bool parallel, const Tensor& bias) {
  static_assert(PackedMatrix::kPanel == 16, "the micro-kernel holds a panel row in two ymm");
  check(a.defined() && out.defined() && a.dim() == 2 && out.dim() == 2 && a.dtype() == kFloat32 &&
            out.dtype() == kFloat32,
        "gemm_packed: expects 2-D float32 a and out, got {} and {}",
        a.defined() ? a.shape() : Dims{}, out.defined() ? out.shape() : Dims{});
  const std::int64_t M = a.size(0);
  check(a.size(1) == b.rows() && out.size(0) == M && out.size(1) == b.cols(),
        "gemm_packed: shapes {} @ [{}, {}] -> {} do not match", a.shape(), b.rows(), b.cols(),
        out.shape());
  check((a.stride(1) == 1 || a.size(1) <= 1) && (out.stride(1) == 1 || b.cols() <= 1),
        "gemm_packed: a and out need unit stride along their last dim, got strides {} and {}",
        a.strides(), out.strides());
  check(!bias.defined() || (bias.dim() == 1 && bias.size(0) == b.cols() &&
                            bias.dtype() == kFloat32 && bias.is_contiguous()),
        "gemm_packed: bias must be a contiguous float32 vector of {} values, got {}", b.cols(),
        bias.defined() ? bias.shape() : Dims{});
  out.bump_version();
  if (M == 0 || b.cols() == 0) return;
  const Product p{a.data<float>(),
                  a.stride(0),
                  a.size(1) > 1 ? a.stride(1) : 1,
                  &b,
                  out.data<float>(),
                  out.stride(0),
                  accumulate,
                  bias.defined() ? bias.data<float>() : nullptr};
  const std::int64_t blocks = (M + kRowBlock - 1) / kRowBlock * b.panels();
  if (!parallel || blocks < 2) {
    blocks_range(p, M, 0, blocks);
    return;
  }
  parallel_for_chunks(
      blocks, [&](int, std::int64_t first, std::int64_t last) { blocks_range(p, M, first, last); });
}

#else  // no AVX2 + FMA: gemm() never takes this path

bool packed_gemm_available() { return false; }

void gemm_packed(const Tensor&, const PackedMatrix&, const Tensor&, bool, bool, const Tensor&) {
  throw Error("gemm_packed: this build has no packed kernel (needs AVX2 and FMA)");
}

#endif

}  // namespace seqgrad
