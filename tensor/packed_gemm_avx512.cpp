// The packed GEMM's AVX-512 micro-kernel: 6 rows of a times four 16-column panels of b
// (tensor/packed_gemm_kernels.h says why the code sits in a target region).
#include <immintrin.h>

#include <cstdint>

#include "tensor/packed_gemm_kernels.h"

#include "tensor/avx512_region_begin.h"

namespace seqgrad::packed_gemm_detail {
namespace {

// Rows [i, i + R) of a times NP consecutive K x 16 panels (c's columns n0 .. n0 + width - 1,
// width <= 16 NP) into R x NP zmm accumulators: with R = 6 and NP = 4, 24 of the 32 registers,
// 4 more for the panels' rows at step k and one for the broadcast element of a. Per k: 4 loads
// and 6 broadcasts feed 24 FMAs of 16 lanes, against 2 loads and 6 broadcasts for 12 FMAs of 8
// lanes in the AVX2 kernel. The accumulators start from `init` (16 NP values, the bias) or zero.
// `prefetch_lines` lines of the next call's panels are prefetched, spread over k (as in the AVX2
// kernel; at most one line per k).
template <int R, int NP>
void micro_kernel_avx512(const Product& p, std::int64_t i, const float* a, const float* panel,
                         std::int64_t n0, std::int64_t width, const float* init,
                         const float* prefetch, std::int64_t prefetch_lines) {
  const std::int64_t K = p.K, ldc = p.ldc, panel_stride = K * 16;
  float* c = p.c + i * ldc + n0;
  __m512 acc[R][NP];
#pragma GCC unroll 4
  for (int q = 0; q < NP; ++q) {
    const __m512 start = init ? _mm512_loadu_ps(init + 16 * q) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r][q] = start;
  }
  const std::int64_t chunk = prefetch_lines > 0 ? (K + prefetch_lines - 1) / prefetch_lines : K;
  for (std::int64_t k0 = 0; k0 < K; k0 += chunk) {
    if (prefetch_lines > 0) {
      _mm_prefetch(reinterpret_cast<const char*>(prefetch), _MM_HINT_T0);
      prefetch += 16;
      --prefetch_lines;
    }
    const std::int64_t k1 = k0 + chunk < K ? k0 + chunk : K;
#pragma GCC unroll 2
    for (std::int64_t k = k0; k < k1; ++k) {
      __m512 b[NP];
#pragma GCC unroll 4
      for (int q = 0; q < NP; ++q) b[q] = _mm512_loadu_ps(panel + q * panel_stride + k * 16);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512 x = _mm512_set1_ps(a[k * kGroup + r]);
#pragma GCC unroll 4
        for (int q = 0; q < NP; ++q) acc[r][q] = _mm512_fmadd_ps(x, b[q], acc[r][q]);
      }
    }
  }
  // Only the matrix's last panel can be partial: a masked load/store covers it.
#pragma GCC unroll 4
  for (int q = 0; q < NP; ++q) {
    const std::int64_t cols = width - 16 * q >= 16 ? 16 : width - 16 * q;
    const __mmask16 mask = static_cast<__mmask16>((1u << cols) - 1u);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      float* cr = c + r * ldc + 16 * q;
      if (cols == 16) {
        if (p.accumulate) acc[r][q] = _mm512_add_ps(acc[r][q], _mm512_loadu_ps(cr));
        _mm512_storeu_ps(cr, acc[r][q]);
      } else {
        if (p.accumulate) acc[r][q] = _mm512_add_ps(acc[r][q], _mm512_maskz_loadu_ps(mask, cr));
        _mm512_mask_storeu_ps(cr, mask, acc[r][q]);
      }
    }
  }
}

using MicroKernel = void (*)(const Product&, std::int64_t, const float*, const float*, std::int64_t,
                             std::int64_t, const float*, const float*, std::int64_t);
template <int NP>
constexpr MicroKernel kRowKernels[] = {nullptr,
                                       micro_kernel_avx512<1, NP>,
                                       micro_kernel_avx512<2, NP>,
                                       micro_kernel_avx512<3, NP>,
                                       micro_kernel_avx512<4, NP>,
                                       micro_kernel_avx512<5, NP>,
                                       micro_kernel_avx512<6, NP>};
constexpr const MicroKernel* kMicroKernels[] = {nullptr, kRowKernels<1>, kRowKernels<2>,
                                                kRowKernels<3>, kRowKernels<4>};
static_assert(kAvx512UnitPanels == 4, "kMicroKernels covers 1 to 4 panels");

}  // namespace

void tile_avx512(const Product& p, std::int64_t i0, std::int64_t i1, const float* a_block,
                 std::int64_t first_panel, std::int64_t panels, const float* next,
                 std::int64_t next_lines) {
  const std::int64_t K = p.K, n0 = first_panel * 16;
  const std::int64_t width = p.N - n0 < 16 * panels ? p.N - n0 : 16 * panels;
  alignas(64) float init[16 * kAvx512UnitPanels] = {};  // the bias under these panels
  if (p.bias)
    for (std::int64_t j = 0; j < width; ++j) init[j] = p.bias[n0 + j];
  const std::int64_t passes = (i1 - i0 + kGroup - 1) / kGroup;
  const float* panel = p.panels + first_panel * K * 16;
  for (std::int64_t i = i0, pass = 0; i < i1; i += kGroup, ++pass) {
    const std::int64_t rows = i1 - i < kGroup ? i1 - i : kGroup;
    const LineShare share = prefetch_share(pass, passes, next ? next_lines : 0);
    kMicroKernels[panels][rows](p, i, a_block + pass * K * kGroup, panel, n0, width,
                                p.bias ? init : nullptr, next ? next + share.first * 16 : nullptr,
                                share.count);
  }
}

// The sum of v's 16 lanes, through memory: GCC 12's shuffle and reduce intrinsics trip
// -Wmaybe-uninitialized inside its own header (their "undefined" pass-through operand).
inline float lane_sum(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float s = 0.0f;
  for (float x : lanes) s += x;
  return s;
}

// Eight rows of W at a time, one zmm accumulator each, a's 16 values loaded once per k step for
// all eight; a masked step for K's last K % 16 values; each accumulator summed across its lanes.
void row_times_transposed_avx512(const float* a, const float* w, std::int64_t ld, std::int64_t N,
                                 std::int64_t K, const float* init, float* out) {
  constexpr int kRows = 8;
  const std::int64_t body = K - K % 16;
  const auto tail = static_cast<__mmask16>((1u << (K % 16)) - 1u);
  auto rows = [&]<int R>(std::int64_t j) {
    __m512 acc[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    for (std::int64_t k = 0; k < body; k += 16) {
      const __m512 x = _mm512_loadu_ps(a + k);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
        acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w + (j + r) * ld + k), x, acc[r]);
    }
    if (body < K) {
      const __m512 x = _mm512_maskz_loadu_ps(tail, a + body);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
        acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w + (j + r) * ld + body), x, acc[r]);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) out[j + r] = (init ? init[j + r] : 0.0f) + lane_sum(acc[r]);
  };
  std::int64_t j = 0;
  for (; j + kRows <= N; j += kRows) rows.template operator()<kRows>(j);
  for (; j < N; ++j) rows.template operator()<1>(j);
}

}  // namespace seqgrad::packed_gemm_detail

#include "tensor/avx512_region_end.h"
