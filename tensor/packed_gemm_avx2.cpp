// The packed GEMM's AVX2 + FMA micro-kernel: 6 rows of a times one 16-column panel of b
// (tensor/packed_gemm_kernels.h says why the code sits in a target region).
#include <immintrin.h>

#include <cstdint>

#include "tensor/packed_gemm_kernels.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

namespace seqgrad::packed_gemm_detail {
namespace {

// Rows [i, i + R) of a times one K x 16 panel (c's columns n0 .. n0 + width - 1) into R x 16
// accumulators: 2R of the 16 ymm registers hold the accumulators, 2 the panel's row, 1 the
// broadcast element of a (read from a's packed group). The accumulators start from `init` (16
// values, the bias) or zero.
//
// Along the way it prefetches `prefetch_lines` cache lines from `prefetch` (part of the panel the
// next call will read), spread evenly over k. Why: the weights of a recurrent step (12 MiB for a
// 2-layer LSTM at hidden 512) do not stay in cache between steps, and the hardware prefetcher
// does not run far enough ahead of a kernel that reads a new 64-byte line every 6 cycles; the
// first rows to meet a panel then wait on memory. So the next panel is fetched while this one is
// computed.
template <int R>
void micro_kernel_avx2(const Product& p, std::int64_t i, const float* a, const float* panel,
                       std::int64_t n0, std::int64_t width, const float* init,
                       const float* prefetch, std::int64_t prefetch_lines) {
  const std::int64_t K = p.K, ldc = p.ldc;  // a: rows i .. i+R-1 packed, [K][kGroup]
  float* c = p.c + i * ldc + n0;
  const __m256 init_lo = init ? _mm256_loadu_ps(init) : _mm256_setzero_ps();
  const __m256 init_hi = init ? _mm256_loadu_ps(init + 8) : _mm256_setzero_ps();
  __m256 lo[R], hi[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    lo[r] = init_lo;
    hi[r] = init_hi;
  }
  const std::int64_t chunk = prefetch_lines > 0 ? (K + prefetch_lines - 1) / prefetch_lines : K;
  for (std::int64_t k0 = 0; k0 < K; k0 += chunk) {
    if (prefetch_lines > 0) {
      _mm_prefetch(reinterpret_cast<const char*>(prefetch), _MM_HINT_T0);
      prefetch += 16;  // one panel row is one 64-byte line
      --prefetch_lines;
    }
    const std::int64_t k1 = k0 + chunk < K ? k0 + chunk : K;
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
constexpr MicroKernel kMicroKernels[] = {nullptr,
                                         micro_kernel_avx2<1>,
                                         micro_kernel_avx2<2>,
                                         micro_kernel_avx2<3>,
                                         micro_kernel_avx2<4>,
                                         micro_kernel_avx2<5>,
                                         micro_kernel_avx2<6>};

}  // namespace

// Rows [i0, i1) times one panel: the panel stays in L1/L2 while the rows pass over it, kGroup at a
// time (12 accumulators: the widest tile that fits). Each pass prefetches its share of `next`.
void tile_avx2(const Product& p, std::int64_t i0, std::int64_t i1, const float* a_block,
               std::int64_t first_panel, std::int64_t, const float* next, std::int64_t next_lines) {
  const std::int64_t K = p.K, n0 = first_panel * 16;
  const std::int64_t width = p.N - n0 < 16 ? p.N - n0 : 16;
  alignas(32) float init[16] = {};  // the bias under this panel, zero-padded past width
  if (p.bias)
    for (std::int64_t j = 0; j < width; ++j) init[j] = p.bias[n0 + j];
  const std::int64_t passes = (i1 - i0 + kGroup - 1) / kGroup;
  const float* panel = p.panels + first_panel * K * 16;
  for (std::int64_t i = i0, pass = 0; i < i1; i += kGroup, ++pass) {
    const std::int64_t rows = i1 - i < kGroup ? i1 - i : kGroup;
    const LineShare share = prefetch_share(pass, passes, next ? next_lines : 0);
    kMicroKernels[rows](p, i, a_block + pass * K * kGroup, panel, n0, width,
                        p.bias ? init : nullptr, next ? next + share.first * 16 : nullptr,
                        share.count);
  }
}

}  // namespace seqgrad::packed_gemm_detail

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
