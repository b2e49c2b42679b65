// The packed GEMM's micro-kernels, one file per instruction set (packed_gemm_avx2.cpp,
// packed_gemm_avx512.cpp), each compiled for its set inside a `#pragma GCC target` region while
// the rest of the library stays at the baseline; tensor/packed_gemm.cpp packs, splits the work
// and calls the set cpu_path() names (tensor/cpu.h). Internal to those files.
//
// Why target regions rather than per-file -mavx512f: a file compiled with -mavx512f also emits
// AVX-512 code for every inline function of the headers it includes (std::vector, Tensor), and the
// linker may keep that copy for the whole program, which then dies on an AVX2 machine. Inside a
// target region only the functions written there get the wider instructions; they take raw
// pointers and call nothing but intrinsics.
#pragma once

#include <cstdint>

namespace seqgrad {
class PackedMatrix;
}

namespace seqgrad::packed_gemm_detail {

constexpr std::int64_t kGroup = 6;  // rows of a per packed group (and per micro-kernel call)

// One product's operands as the kernels see them: c = a @ b (+ c when `accumulate`) (+ bias).
struct Product {
  const float* a;
  std::int64_t lda, a_col_stride;
  const float* panels;  // b's panels, [panels][K][16]
  std::int64_t K, N;    // b is K x N
  float* c;
  std::int64_t ldc;
  bool accumulate;
  const float* bias;      // null, or N values added to every row of c
  const float* a_packed;  // null, or a already in the packed layout (PackedRows): a is unused
};

// The share of the next call's `total` prefetch lines that pass `pass` of `passes` (a tile's
// passes over kGroup rows each) fetches: lines [first, first + count), spread evenly.
struct LineShare {
  std::int64_t first, count;
};
inline LineShare prefetch_share(std::int64_t pass, std::int64_t passes, std::int64_t total) {
  const std::int64_t per_pass = (total + passes - 1) / passes;
  const std::int64_t first = pass * per_pass < total ? pass * per_pass : total;
  const std::int64_t last = first + per_pass < total ? first + per_pass : total;
  return {first, last - first};
}

// Rows [i0, i1) of the product (a's rows packed in `a_block`, groups of kGroup rows stored k by
// k) times panels [first_panel, first_panel + panels) of b. While it computes, the kernel
// prefetches `next_lines` 64-byte lines from `next` (the panels the next call reads; may be null).
using TileFn = void (*)(const Product& p, std::int64_t i0, std::int64_t i1, const float* a_block,
                        std::int64_t first_panel, std::int64_t panels, const float* next,
                        std::int64_t next_lines);

// AVX2 + FMA: 6 rows x 1 panel (12 ymm accumulators) per micro-kernel call.
constexpr std::int64_t kAvx2UnitPanels = 1;
void tile_avx2(const Product& p, std::int64_t i0, std::int64_t i1, const float* a_block,
               std::int64_t first_panel, std::int64_t panels, const float* next,
               std::int64_t next_lines);

// AVX-512: 6 rows x 4 panels (24 zmm accumulators) per micro-kernel call.
constexpr std::int64_t kAvx512UnitPanels = 4;
void tile_avx512(const Product& p, std::int64_t i0, std::int64_t i1, const float* a_block,
                 std::int64_t first_panel, std::int64_t panels, const float* next,
                 std::int64_t next_lines);

// One row a [K] (contiguous) times W^T, W [N, K] with rows `ld` apart, read as it lies: out[j] =
// init[j] (or 0 without init) + sum_k a[k] W[j, k]. A decoding step at batch 1 multiplies one row
// by each weight once per step; packing the weight first would move it twice. `init` may be `out`.
void row_times_transposed_avx512(const float* a, const float* w, std::int64_t ld, std::int64_t N,
                                 std::int64_t K, const float* init, float* out);

}  // namespace seqgrad::packed_gemm_detail
