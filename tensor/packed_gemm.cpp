#include "tensor/packed_gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "tensor/parallel.h"

#include "tensor/cpu.h"
#include "tensor/packed_gemm_kernels.h"

namespace seqgrad {

namespace {

#ifdef __AVX2__
// dst[j * ldd + i] = src[i * ld + j] for i, j < 8: an 8 x 8 transpose in registers.
void transpose_8x8(const float* src, std::int64_t ld, float* dst, std::int64_t ldd) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ld);
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}
#endif

// Columns [first, last) of b (column n at src + n * sn, its k-th value k * sk further) into the
// panels at dst (rows values per panel row).
void pack_columns(const float* src, std::int64_t sk, std::int64_t sn, std::int64_t rows,
                  std::int64_t first, std::int64_t last, float* dst) {
  constexpr std::int64_t kPanel = PackedMatrix::kPanel;
  const auto one_column = [&](std::int64_t n, std::int64_t k0) {
    const float* column = src + n * sn;
    float* out = dst + (n / kPanel) * rows * kPanel + n % kPanel;
    for (std::int64_t k = k0; k < rows; ++k) out[k * kPanel] = column[k * sk];
  };
  std::int64_t n = first;
#ifdef __AVX2__
  // Columns contiguous along k (a row-major matrix's transpose): eight columns by eight k at a
  // time through registers, each store a half panel row, instead of one scattered store per value
  // (a tenth of the CNN's training step when its weight gradients packed gy^T that way).
  if (sk == 1) {
    for (; n < last && n % 8 != 0; ++n) one_column(n, 0);
    for (; n + 8 <= last; n += 8) {
      float* out = dst + (n / kPanel) * rows * kPanel + n % kPanel;
      std::int64_t k = 0;
      for (; k + 8 <= rows; k += 8) transpose_8x8(src + n * sn + k, sn, out + k * kPanel, kPanel);
      for (std::int64_t i = 0; i < 8; ++i) one_column(n + i, k);
    }
  }
#endif
  for (; n < last; ++n) one_column(n, 0);
}

}  // namespace

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
  // Split between threads from 64K values (a 256 KiB weight) up: a decoding batch at hidden 512
  // packs about 48 MiB of weights, and a weight packed for one product outside a packing scope
  // (a Linear layer's W^T, 200K values at hidden 256) leaves the other thread waiting.
  const auto split = [&](std::int64_t n, auto&& f) {
    if (rows_ * cols_ >= (std::int64_t{1} << 16) && !detail::inside_parallel_body())
      parallel_for(n, f);
    else
      f(std::int64_t{0}, n);
  };
  if (sn == 1) {
    split(rows_, [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t k = first; k < last; ++k) {
        const float* row = src + k * sk;
        // memcpy of a constant size: inlined as vector moves (std::copy_n became a libc call,
        // 2% of a cho step at two threads).
        for (std::int64_t p = 0; p < full; ++p)
          std::memcpy(dst + (p * rows_ + k) * kPanel, row + p * kPanel, sizeof(float) * kPanel);
        if (tail > 0) std::copy_n(row + full * kPanel, tail, dst + (full * rows_ + k) * kPanel);
      }
    });
    return;
  }
  split(cols_, [&](std::int64_t first, std::int64_t last) {
    pack_columns(src, sk, sn, rows_, first, last, dst);
  });
}

bool packed_gemm_available() { return cpu_path() != CpuPath::kGeneric; }

namespace {

using namespace packed_gemm_detail;

#ifdef __AVX2__
// The six rows of a group, 8 values of k at a time, as an 8 x 8 transpose in registers (two rows
// of zeros): element by element this copy cost a quarter of the packing's time. Each k's six
// values are stored with an 8-wide store whose last two lanes the next k's store overwrites, so
// the loop stops while 8 k remain for the caller (the buffer's last group never sees a stray
// write). Returns the first k not packed.
std::int64_t transpose_group(const float* rows, std::int64_t lda, std::int64_t K, float* dst) {
  static_assert(kGroup == 6, "the transpose fills six lanes of each k");
  std::int64_t k = 0;
  for (; k + 16 <= K; k += 8) {
    __m256 r[8];
    for (int i = 0; i < 6; ++i) r[i] = _mm256_loadu_ps(rows + i * lda + k);
    r[6] = r[7] = _mm256_setzero_ps();
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 z = r[6];
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, z, 0x44), u5 = _mm256_shuffle_ps(t4, z, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, z, 0x44), u7 = _mm256_shuffle_ps(t5, z, 0xEE);
    // Column j of the 8 x 8 block (k + j): rows 0-3 from u*, rows 4-5 (and two zeros) from u*+4.
    const __m256 col[8] = {
        _mm256_permute2f128_ps(u0, u4, 0x20), _mm256_permute2f128_ps(u1, u5, 0x20),
        _mm256_permute2f128_ps(u2, u6, 0x20), _mm256_permute2f128_ps(u3, u7, 0x20),
        _mm256_permute2f128_ps(u0, u4, 0x31), _mm256_permute2f128_ps(u1, u5, 0x31),
        _mm256_permute2f128_ps(u2, u6, 0x31), _mm256_permute2f128_ps(u3, u7, 0x31)};
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + (k + j) * kGroup, col[j]);
  }
  return k;
}
#endif

// Rows [i0, i1) of a copied into `dst` in groups of kGroup rows, each group stored k by k
// ([K][kGroup]; a last group's missing rows are left as they are and never read). The
// micro-kernel then broadcasts its a values from one stream that advances 24 bytes per k instead
// of from six rows lda apart: on the recurrent products (K = 512) that took 0.70 -> 0.61 of
// cblas_sgemm's time at one thread. The copy is K values per row against K*N multiply-adds.
void pack_rows(const Product& p, std::int64_t i0, std::int64_t i1, float* dst) {
  const std::int64_t K = p.K, lda = p.lda, sk = p.a_col_stride;
  if (lda == 1 && K > 1) {
    // a is a transpose (a weight gradient's x^T): its rows lie side by side in memory, so walk k
    // outside and read each k's slice of the block in one sweep. Group by group (the loop below)
    // would fetch a new cache line per k for every group: 35% of this function's time, 10% of a
    // cho step at two threads.
    const std::int64_t rows = i1 - i0, full = rows / kGroup * kGroup;
    for (std::int64_t k = 0; k < K; ++k) {
      const float* src = p.a + i0 + k * sk;
      float* out = dst + k * kGroup;
      // memcpy of a constant size is inlined as two moves (std::copy_n was a libc call per group).
      for (std::int64_t r = 0; r < full; r += kGroup)
        std::memcpy(out + r * K, src + r, sizeof(float) * kGroup);
      for (std::int64_t r = full; r < rows; ++r) out[full * K + r - full] = src[r];
    }
    return;
  }
  for (std::int64_t g = i0; g < i1; g += kGroup, dst += K * kGroup) {
    const float* rows = p.a + g * lda;
    const std::int64_t n = std::min(kGroup, i1 - g);
    std::int64_t k = 0;
#ifdef __AVX2__
    if (n == kGroup && sk == 1) k = transpose_group(rows, lda, K, dst);
#endif
    for (; k < K; ++k)  // writes in order, reads n streams
      for (std::int64_t r = 0; r < n; ++r) dst[k * kGroup + r] = rows[r * lda + k * sk];
  }
}

// The kernels of one instruction set: a unit of work is a block of rows times `unit_panels`
// panels.
struct KernelSet {
  TileFn tile;
  std::int64_t unit_panels;
};

KernelSet kernels_for(CpuPath path) {
  if (path == CpuPath::kAvx512) return {tile_avx512, kAvx512UnitPanels};
  return {tile_avx2, kAvx2UnitPanels};
}

// The product is cut into units of kRowBlock rows times a group of panels, numbered row block by
// row block: a batch of 64 rows is one row block, so the work is split by panel groups; a long
// input projection (T*B rows) keeps each block of its rows in L2 while all panels pass over it.
constexpr std::int64_t kRowBlock = 96;
static_assert(kRowBlock % kGroup == 0, "a row block starts a packed group of a");

// Each thread packs the row blocks of a it meets (pack_rows) into its own buffer, grown to
// kRowBlock x K once and then reused: no allocation in the steady state, and at two threads no
// serial packing before the split (a batch of 64 rows is packed by both threads, in parallel).
void units_range(const Product& p, const KernelSet& ks, std::int64_t M, std::int64_t first,
                 std::int64_t last) {
  thread_local std::vector<float> a_block;
  const std::int64_t panels = (p.N + 15) / 16, K = p.K;
  const std::int64_t groups = (panels + ks.unit_panels - 1) / ks.unit_panels;
  if (!p.a_packed && static_cast<std::int64_t>(a_block.size()) < kRowBlock * K)
    a_block.resize(static_cast<std::size_t>(kRowBlock * K));
  std::int64_t packed_block = -1;
  const auto group_panels = [&](std::int64_t g) {
    return std::min(ks.unit_panels, panels - g * ks.unit_panels);
  };
  for (std::int64_t u = first; u < last; ++u) {
    const std::int64_t row_block = u / groups, i0 = row_block * kRowBlock;
    const std::int64_t i1 = std::min(M, i0 + kRowBlock);
    const float* a_rows = p.a_packed ? p.a_packed + i0 * K : a_block.data();
    if (!p.a_packed && row_block != packed_block) {
      pack_rows(p, i0, i1, a_block.data());
      packed_block = row_block;
    }
    const std::int64_t g = u % groups, next_g = (u + 1) % groups;
    const float* next = u + 1 < last ? p.panels + next_g * ks.unit_panels * K * 16 : nullptr;
    ks.tile(p, i0, i1, a_rows, g * ks.unit_panels, group_panels(g), next,
            next ? group_panels(next_g) * K : 0);
  }
}

}  // namespace

namespace {

// The checks both entry points share, then the product itself (a's rows packed on the way unless
// p.a_packed), split between threads when `parallel`.
void check_operands(const char* what, const Dims& a_shape, std::int64_t M, std::int64_t K,
                    const PackedMatrix& b, const Tensor& out, const Tensor& bias) {
  if (!packed_gemm_available())  // (not a check(): its arguments would read /proc every call)
    throw Error(fmt::format("gemm_packed: the packed kernel needs AVX2 + FMA (path: {}, CPU: {})",
                            cpu_path_name(cpu_path()), cpu_model_name()));
  check(out.defined() && out.dim() == 2 && out.dtype() == kFloat32,
        "gemm_packed: expects a 2-D float32 out, got {}", out.defined() ? out.shape() : Dims{});
  check(K == b.rows() && out.size(0) == M && out.size(1) == b.cols(),
        "gemm_packed: shapes {}{} @ [{}, {}] -> {} do not match", what, a_shape, b.rows(), b.cols(),
        out.shape());
  check(out.stride(1) == 1 || b.cols() <= 1,
        "gemm_packed: out needs unit stride along its last dim, got strides {}", out.strides());
  check(!bias.defined() || (bias.dim() == 1 && bias.size(0) == b.cols() &&
                            bias.dtype() == kFloat32 && bias.is_contiguous()),
        "gemm_packed: bias must be a contiguous float32 vector of {} values, got {}", b.cols(),
        bias.defined() ? bias.shape() : Dims{});
}

// p's a fields (set by the caller: a's rows, or a packed beforehand) times b into out: the rest
// of p filled in here, then the product, split between threads when `parallel`.
void multiply(Product p, std::int64_t M, const PackedMatrix& b, const Tensor& out, bool accumulate,
              bool parallel, const Tensor& bias) {
  out.bump_version();
  if (M == 0 || b.cols() == 0) return;
  p.panels = b.panel(0);
  p.K = b.rows();
  p.N = b.cols();
  p.c = out.data<float>();
  p.ldc = out.stride(0);
  p.accumulate = accumulate;
  p.bias = bias.defined() ? bias.data<float>() : nullptr;
  const KernelSet ks = kernels_for(cpu_path());
  const std::int64_t groups = (b.panels() + ks.unit_panels - 1) / ks.unit_panels;
  const std::int64_t units = (M + kRowBlock - 1) / kRowBlock * groups;
  if (!parallel || units < 2) {
    units_range(p, ks, M, 0, units);
    return;
  }
  parallel_for_chunks(units, [&](int, std::int64_t first, std::int64_t last) {
    units_range(p, ks, M, first, last);
  });
}

}  // namespace

void gemm_packed(const Tensor& a, const PackedMatrix& b, const Tensor& out, bool accumulate,
                 bool parallel, const Tensor& bias) {
  static_assert(PackedMatrix::kPanel == 16, "the micro-kernels hold a panel row in 16 floats");
  check(a.defined() && a.dim() == 2 && a.dtype() == kFloat32,
        "gemm_packed: expects a 2-D float32 a, got {}", a.defined() ? a.shape() : Dims{});
  const std::int64_t M = a.size(0);
  check_operands("", a.shape(), M, a.size(1), b, out, bias);
  Product p{};
  p.a = a.data<float>();
  p.lda = a.stride(0);
  p.a_col_stride = a.size(1) > 1 ? a.stride(1) : 1;
  multiply(p, M, b, out, accumulate, parallel, bias);
}

void gemm_packed(const PackedRows& a, const PackedMatrix& b, const Tensor& out, bool accumulate,
                 bool parallel, const Tensor& bias) {
  const std::int64_t M = a.rows();
  check_operands("packed ", Dims{M, a.cols()}, M, a.cols(), b, out, bias);
  Product p{};
  p.a_packed = a.data();
  multiply(p, M, b, out, accumulate, parallel, bias);
}

PackedRows::PackedRows(const Tensor& a) {
  check(a.defined() && a.dim() == 2 && a.dtype() == kFloat32,
        "PackedRows: expects a 2-D float32 tensor, got {} {}", a.defined() ? a.shape() : Dims{},
        a.defined() ? a.dtype() : kFloat32);
  rows_ = a.size(0);
  cols_ = a.size(1);
  data_ = Tensor::empty({(rows_ + kGroup - 1) / kGroup * kGroup * cols_}, kFloat32);
  if (rows_ == 0 || cols_ == 0) return;
  Product p{};
  p.a = a.data<float>();
  p.lda = a.stride(0);
  p.a_col_stride = cols_ > 1 ? a.stride(1) : 1;
  p.K = cols_;
  for (std::int64_t i0 = 0; i0 < rows_; i0 += kRowBlock)
    pack_rows(p, i0, std::min(rows_, i0 + kRowBlock), data_.data<float>() + i0 * cols_);
}

}  // namespace seqgrad
