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

// out = bias + a @ b, the vector bias [N] added to every row (torch.addmm(bias, a, b, out=out)).
// Inside a GemmPackingScope the product starts from the bias instead of a copy of it.
void addmm(const Tensor& bias, const Tensor& a, const Tensor& b, const Tensor& out);

// While a GemmPackingScope is alive on a thread, that thread's float32 gemm() calls (alpha 1,
// beta 0 or 1, a left operand stored row by row) run on seqgrad's packed kernel
// (tensor/packed_gemm.h), and a right operand that comes back — the same storage, offset, shape
// and strides — is packed once and reused for as long as its storage's version is unchanged. The
// recurrent kernels open one per pass over a sequence, where every step multiplies by the same
// weight; greedy decoding and beam search open one per run. Inside a chunk of a parallel loop a
// scope applies only if the chunk opened one itself (each chunk packs on its own thread). With
// several threads the products are
// split by seqgrad's own worker pool, so that inside a scope OpenBLAS's threads (which spin for a
// while after each call) are not woken. Scopes nest: the outermost owns the packed copies and
// frees them when it ends; until then each copy holds a reference to its operand's storage, so
// that no new tensor can take the same address and be mistaken for it.
// What it relies on: a right operand used twice in a scope is not changed in between except
// through in-place ops or optimisers (which bump the version) — true of weights; a kernel writing
// raw data<T>() into such an operand would go unseen.
class GemmPackingScope {
 public:
  GemmPackingScope();
  ~GemmPackingScope();
  // `b` will come back (a recurrent weight, at every step): pack it for keeps now instead of
  // packing a temporary on its first use and the kept copy on its second. float64 is never packed.
  void keep(const Tensor& b) const;
  GemmPackingScope(const GemmPackingScope&) = delete;
  GemmPackingScope& operator=(const GemmPackingScope&) = delete;

 private:
  bool in_body_;  // opened inside a chunk of a parallel loop: it applies to that chunk's products
};

// Threads used by seqgrad's own parallel loops (tensor/parallel.h), which also split every large
// matrix product (each thread one single-threaded OpenBLAS call on a slab of the output).
// blas_threads (0: 1) is OpenBLAS's own thread count: above 1, OpenBLAS splits products itself,
// and its idle workers spin for ~0.1 s after each call, taking the cores from seqgrad's threads.
// Set it between steps, not from another thread while a forward or backward pass runs: kernels read
// it more than once per call (like torch.set_num_threads, the setting is process-wide).
void set_num_threads(int n, int blas_threads = 0);
int get_num_threads();  // seqgrad's threads (set_num_threads's n)

}  // namespace seqgrad
