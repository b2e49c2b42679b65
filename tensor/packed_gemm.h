// A single-precision GEMM on a right operand packed once and reused.
//
// Why it exists: a recurrent layer multiplies the same weight by a new [B, H] state at every step,
// and greedy decoding does so for every layer at every step. OpenBLAS copies ("packs") its right
// operand into a panel layout on every call; with B = 64 rows that copy is a large share of the
// call, and the same weight is packed again at every step (docs/performance.md).
// Packed once per forward or backward pass, or once per decoding run, the copy disappears and the
// kernel reads the panels straight from cache. linalg.h's GemmPackingScope decides when gemm()
// takes this path; nothing else needs to call it.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace seqgrad {

// B [K, N] (any strides) copied into column panels of kPanel: panel p holds columns
// p*kPanel .. p*kPanel + kPanel - 1 as K rows of kPanel contiguous floats, the last panel padded
// with zeros.
class PackedMatrix {
 public:
  static constexpr std::int64_t kPanel = 16;

  PackedMatrix() = default;
  explicit PackedMatrix(const Tensor& b);  // float32, 2-D
  // A K x N matrix whose panels the caller writes (through mutable_panel) before using it: for a
  // producer that can write the panel layout directly (im2col), instead of a matrix packed again.
  // Its columns past N in the last panel must be written as zeros.
  PackedMatrix(std::int64_t rows, std::int64_t cols);

  std::int64_t rows() const { return rows_; }  // K
  std::int64_t cols() const { return cols_; }  // N
  std::int64_t panels() const { return (cols_ + kPanel - 1) / kPanel; }
  const float* panel(std::int64_t p) const { return data_.data<float>() + p * rows_ * kPanel; }
  float* mutable_panel(std::int64_t p) { return data_.data<float>() + p * rows_ * kPanel; }

 private:
  Tensor data_;  // [panels, K, kPanel]
  std::int64_t rows_ = 0, cols_ = 0;
};

// A [M, K] (any strides) copied into the kernel's layout for the left operand: groups of 6 rows,
// each stored k by k ([K][6]). gemm_packed copies a's rows so on every call; when one left operand
// meets many right ones (a convolution's weight, once per sample) it is packed once here instead.
class PackedRows {
 public:
  PackedRows() = default;
  explicit PackedRows(const Tensor& a);  // float32, 2-D

  std::int64_t rows() const { return rows_; }  // M
  std::int64_t cols() const { return cols_; }  // K
  const float* data() const { return data_.data<float>(); }

 private:
  Tensor data_;  // [ceil(M / 6) * 6 * K]
  std::int64_t rows_ = 0, cols_ = 0;
};

// Whether the kernels run on this CPU: AVX2 + FMA at least (tensor/cpu.h; SEQGRAD_CPU=generic
// turns them off). The AVX-512 kernel is taken where the CPU has it. Without them gemm() always
// calls OpenBLAS.
bool packed_gemm_available();

// out = a @ b, or out += a @ b when `accumulate`; a [M, K] float32 with any strides (its rows are
// copied into the kernel's layout on the way: a transposed view costs nothing more), out [M, N]
// with unit stride along N. A `bias` [N] is added to every row on the way (the
// accumulators start from it: no separate pass over out). With `parallel`, the work (blocks of
// rows times column panels) is split between seqgrad's intra-op threads (tensor/parallel.h).
void gemm_packed(const Tensor& a, const PackedMatrix& b, const Tensor& out, bool accumulate,
                 bool parallel = false, const Tensor& bias = Tensor());
// The same with a packed beforehand.
void gemm_packed(const PackedRows& a, const PackedMatrix& b, const Tensor& out, bool accumulate,
                 bool parallel = false, const Tensor& bias = Tensor());

}  // namespace seqgrad
