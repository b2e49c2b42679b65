#include "tensor/packed_gemm.h"

#include <algorithm>
#include <vector>

#include "tensor/parallel.h"

#include "tensor/cpu.h"
#include "tensor/packed_gemm_kernels.h"

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

bool packed_gemm_available() { return cpu_path() != CpuPath::kGeneric; }

namespace {

using namespace packed_gemm_detail;

// Rows [i0, i1) of a copied into `dst` in groups of kGroup rows, each group stored k by k
// ([K][kGroup]; a last group's missing rows are left as they are and never read). The
// micro-kernel then broadcasts its a values from one stream that advances 24 bytes per k instead
// of from six rows lda apart: on the recurrent products (K = 512) that took 0.70 -> 0.61 of
// cblas_sgemm's time at one thread. The copy is K values per row against K*N multiply-adds.
void pack_rows(const Product& p, std::int64_t i0, std::int64_t i1, float* dst) {
  const std::int64_t K = p.K, lda = p.lda, sk = p.a_col_stride;
  for (std::int64_t g = i0; g < i1; g += kGroup, dst += K * kGroup) {
    const float* rows = p.a + g * lda;
    const std::int64_t n = std::min(kGroup, i1 - g);
    for (std::int64_t k = 0; k < K; ++k)  // writes in order, reads n streams
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
  if (static_cast<std::int64_t>(a_block.size()) < kRowBlock * K)
    a_block.resize(static_cast<std::size_t>(kRowBlock * K));
  std::int64_t packed_block = -1;
  const auto group_panels = [&](std::int64_t g) {
    return std::min(ks.unit_panels, panels - g * ks.unit_panels);
  };
  for (std::int64_t u = first; u < last; ++u) {
    const std::int64_t row_block = u / groups, i0 = row_block * kRowBlock;
    const std::int64_t i1 = std::min(M, i0 + kRowBlock);
    if (row_block != packed_block) {
      pack_rows(p, i0, i1, a_block.data());
      packed_block = row_block;
    }
    const std::int64_t g = u % groups, next_g = (u + 1) % groups;
    const float* next = u + 1 < last ? p.panels + next_g * ks.unit_panels * K * 16 : nullptr;
    ks.tile(p, i0, i1, a_block.data(), g * ks.unit_panels, group_panels(g), next,
            next ? group_panels(next_g) * K : 0);
  }
}

}  // namespace

void gemm_packed(const Tensor& a, const PackedMatrix& b, const Tensor& out, bool accumulate,
                 bool parallel, const Tensor& bias) {
  static_assert(PackedMatrix::kPanel == 16, "the micro-kernels hold a panel row in 16 floats");
  if (!packed_gemm_available())  // (not a check(): its arguments would read /proc every call)
    throw Error(fmt::format("gemm_packed: the packed kernel needs AVX2 + FMA (path: {}, CPU: {})",
                            cpu_path_name(cpu_path()), cpu_model_name()));
  check(a.defined() && out.defined() && a.dim() == 2 && out.dim() == 2 && a.dtype() == kFloat32 &&
            out.dtype() == kFloat32,
        "gemm_packed: expects 2-D float32 a and out, got {} and {}",
        a.defined() ? a.shape() : Dims{}, out.defined() ? out.shape() : Dims{});
  const std::int64_t M = a.size(0);
  check(a.size(1) == b.rows() && out.size(0) == M && out.size(1) == b.cols(),
        "gemm_packed: shapes {} @ [{}, {}] -> {} do not match", a.shape(), b.rows(), b.cols(),
        out.shape());
  check(out.stride(1) == 1 || b.cols() <= 1,
        "gemm_packed: out needs unit stride along its last dim, got strides {}", out.strides());
  check(!bias.defined() || (bias.dim() == 1 && bias.size(0) == b.cols() &&
                            bias.dtype() == kFloat32 && bias.is_contiguous()),
        "gemm_packed: bias must be a contiguous float32 vector of {} values, got {}", b.cols(),
        bias.defined() ? bias.shape() : Dims{});
  out.bump_version();
  if (M == 0 || b.cols() == 0) return;
  const Product p{a.data<float>(),
                  a.stride(0),
                  a.size(1) > 1 ? a.stride(1) : 1,
                  b.panel(0),
                  b.rows(),
                  b.cols(),
                  out.data<float>(),
                  out.stride(0),
                  accumulate,
                  bias.defined() ? bias.data<float>() : nullptr};
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

}  // namespace seqgrad
