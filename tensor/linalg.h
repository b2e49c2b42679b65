// Matrix products through OpenBLAS. Transposed or otherwise strided operands are passed with
// BLAS's transpose flags and leading dimensions instead of being copied.
#pragma once

#include "tensor/tensor.h"

namespace seqgrad {

// torch.matmul semantics: 1-D x 1-D is a dot product, 2-D x 2-D a matrix product, 1-D operands
// are promoted to a row / column, and higher ranks are batches whose leading dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);   // 2-D only
Tensor bmm(const Tensor& a, const Tensor& b);  // 3-D only, same batch size

// out = alpha * a @ b + beta * out, for 2-D a [M, K], b [K, N] and out [M, N]. With beta = 1 this
// accumulates into `out` without a temporary (used by backward passes and fused layers).
void gemm(const Tensor& a, const Tensor& b, const Tensor& out, double alpha = 1.0,
          double beta = 0.0);

// Threads used by OpenBLAS (every matmul) and by seqgrad's own parallel loops (tensor/parallel.h).
void set_num_threads(int n);
int get_num_threads();

}  // namespace seqgrad
