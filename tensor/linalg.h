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

// Threads used by seqgrad's own parallel loops (tensor/parallel.h) and by OpenBLAS (every matmul);
// blas_threads defaults to n. A model whose parallelism is over samples (the CNN: each thread runs
// its samples' GEMMs single-threaded) passes blas_threads = 1: OpenBLAS's idle workers spin for
// ~0.1 s after each multi-threaded GEMM and would take the cores from seqgrad's threads.
void set_num_threads(int n, int blas_threads = 0);
int get_num_threads();

}  // namespace seqgrad
