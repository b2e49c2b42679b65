#include "tensor/linalg.h"

#include <cblas.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string_view>

#include "tensor/cpu.h"
#include "tensor/creation.h"
#include "tensor/packed_gemm.h"
#include "tensor/packed_gemm_kernels.h"
#include "tensor/parallel.h"

namespace seqgrad {

namespace {

// How BLAS sees a 2-D operand: row-major with leading dimension `ld`, transposed or not.
struct BlasView {
  Tensor t;  // the tensor whose data BLAS reads (the input itself, or a contiguous copy)
  bool trans = false;
  std::int64_t ld = 1;
};

BlasView blas_view(const Tensor& m) {
  const std::int64_t r = m.size(0), c = m.size(1);
  std::int64_t s0 = m.stride(0), s1 = m.stride(1);
  if (c == 1) s1 = 1;  // the stride of a size-1 dim is free
  if (r == 1) s0 = std::max<std::int64_t>(c, 1);
  if (s1 == 1 && s0 >= std::max<std::int64_t>(c, 1)) return {m, false, s0};
  if (s0 == 1 && s1 >= std::max<std::int64_t>(r, 1)) return {m, true, s1};
  Tensor copy = m.contiguous();
  return {copy, false, std::max<std::int64_t>(c, 1)};
}

// The right operands seen inside this thread's GemmPackingScope. An operand is packed for keeps
// only when it comes back (a weight, step after step); on its first use it is packed into a
// temporary like OpenBLAS would, so that products with an operand used once (an input
// projection, an activation) neither hold its memory nor push a weight out of the table. A fixed
// table, no allocation on the hot path; when it is full the least recently used entry goes.
struct OperandEntry {
  const Storage* id = nullptr;  // null: a free slot
  std::int64_t offset = 0, rows = 0, cols = 0, row_stride = 0, col_stride = 0;
  std::uint64_t last_use = 0;
  // Set once the operand has come back: a reference that keeps the storage (so no new tensor can
  // take its address while the entry lives), its version when packed, and the packed copy.
  std::shared_ptr<Storage> storage;
  std::uint64_t version = 0;
  PackedMatrix packed;

  bool same(const Tensor& b) const {
    return id == b.storage().get() && offset == b.offset() && rows == b.size(0) &&
           cols == b.size(1) && row_stride == b.stride(0) && col_stride == b.stride(1);
  }
};
struct PackingCache {
  std::array<OperandEntry, 32> entries;
  std::uint64_t clock = 0;  // counts lookups, for last_use
  int depth = 0;            // nested scopes alive
  int in_body = 0;          // of which opened inside a chunk of a parallel loop
};
thread_local PackingCache packing_cache;

// The packed copy of b kept in the table, or null on b's first use (the caller packs a temporary)
// unless `keep_now`: then b is packed for keeps at once (GemmPackingScope::keep).
const PackedMatrix* packed_operand(const Tensor& b, bool keep_now = false) {
  PackingCache& cache = packing_cache;
  const std::uint64_t now = ++cache.clock;
  OperandEntry* oldest = &cache.entries[0];
  OperandEntry* found = nullptr;
  for (OperandEntry& e : cache.entries) {
    if (e.id != nullptr && e.same(b)) {
      found = &e;
      break;
    }
    if (e.last_use < oldest->last_use) oldest = &e;
  }
  if (found == nullptr) {
    *oldest = OperandEntry{b.storage().get(), b.offset(), b.size(0), b.size(1), b.stride(0),
                           b.stride(1),       now,        nullptr,   0,         PackedMatrix()};
    if (!keep_now) return nullptr;
    found = oldest;
  }
  found->last_use = now;
  if (!found->storage || found->version != b.version()) {  // back for the first time, or written
    PackedMatrix packed(b);  // first: if packing throws, the entry still reads "not packed"
    found->packed = std::move(packed);
    found->storage = b.storage();
    found->version = b.version();
  }
  return &found->packed;
}

// Whether gemm() takes the packed path: float32 inside a scope (and not inside a chunk of a
// parallel loop, whose other chunks run on threads without the scope), a product gemm_packed
// computes (alpha 1, beta 0 or 1) and a left operand it can read row by row.
// A scope opened inside a chunk counts there: every chunk of the loop opens its own (the
// recurrent kernels split by sequences do), so every chunk's products take the same path.
bool scope_applies() {
  return packing_cache.depth > 0 && (!detail::inside_parallel_body() || packing_cache.in_body > 0);
}

bool use_packed(const Tensor& a, double alpha, double beta) {
  return scope_applies() && a.dtype() == kFloat32 && packed_gemm_available() && alpha == 1.0 &&
         (beta == 0.0 || beta == 1.0);
}

// Outside a scope, whether the own kernel beats OpenBLAS for this product even with its right
// operand packed for this one call. On the AVX-512 path it does for every product of a training
// step measured (docs/performance.md "Matrix products": the image pins OpenBLAS to its Haswell,
// i.e. AVX2, kernels); on the AVX2 path the two are within a few percent and OpenBLAS keeps them.
// Below ~64K multiply-adds the packing and the call cost more than they save. SEQGRAD_GEMM=blas
// sends every such product to OpenBLAS (for A/B measurements).
bool own_kernel_faster(const Tensor& a, double alpha, double beta, std::int64_t M, std::int64_t K,
                       std::int64_t N) {
  static const bool blas_only = [] {
    const char* v = std::getenv("SEQGRAD_GEMM");
    return v && std::string_view(v) == "blas";
  }();
  return !blas_only && a.dtype() == kFloat32 && alpha == 1.0 && (beta == 0.0 || beta == 1.0) &&
         cpu_path() == CpuPath::kAvx512 && M * K * N >= (std::int64_t{1} << 16);
}

// The checks gemm and addmm share; returns {M, K, N}.
std::array<std::int64_t, 3> check_product(const Tensor& a, const Tensor& b, const Tensor& out,
                                          const char* op) {
  check_defined(a, op);
  check_defined(b, op);
  check_defined(out, op);
  check(a.dim() == 2 && b.dim() == 2 && out.dim() == 2,
        "{}: expects 2-D operands, got shapes {}, {} and out {}", op, a.shape(), b.shape(),
        out.shape());
  check(a.dtype() == b.dtype() && a.dtype() == out.dtype(), "{}: dtypes {}, {} and {} differ", op,
        a.dtype(), b.dtype(), out.dtype());
  check(is_floating(a.dtype()), "{}: expected float32 or float64, got {}", op, a.dtype());
  const std::int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  check(b.size(0) == K && out.size(0) == M && out.size(1) == N,
        "{}: shapes {} @ {} -> {} do not match", op, a.shape(), b.shape(), out.shape());
  check(out.stride(1) == 1 || N == 1,
        "{}: out must have unit stride along its last dim, got strides {}", op, out.strides());
  check(M <= 1 || out.stride(0) >= N, "{}: the rows of out {} overlap (strides {})", op,
        out.shape(), out.strides());
  return {M, K, N};
}

// out = a @ b (+ out when `accumulate`) (+ bias on every row) on the packed kernel.
void packed_product(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate,
                    const Tensor& bias) {
  const std::int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  // Split between threads only when the product is worth waking a worker (~1 MFLOP and up); a
  // product inside a parallel loop's chunk runs serially in that chunk.
  const bool parallel =
      intra_op_threads() > 1 && !detail::inside_parallel_body() && 2.0 * M * N * K >= 1e6;
  if (M == 1 && !parallel && cpu_path() == CpuPath::kAvx512 && a.stride(1) == 1 &&
      b.stride(0) == 1 && b.stride(1) >= K) {
    // One row times a weight W^T (a decoding step at batch 1): W read as it lies, never packed.
    packed_gemm_detail::row_times_transposed_avx512(
        a.data<float>(), b.data<float>(), b.stride(1), N, K,
        accumulate ? out.data<float>() : (bias.defined() ? bias.data<float>() : nullptr),
        out.data<float>());
    out.bump_version();
    return;
  }
  if (const PackedMatrix* kept = packed_operand(b))
    gemm_packed(a, *kept, out, accumulate, parallel, bias);  // bumps out's version
  else
    gemm_packed(a, PackedMatrix(b), out, accumulate, parallel, bias);
}

}  // namespace

GemmPackingScope::GemmPackingScope() : in_body_(detail::inside_parallel_body()) {
  ++packing_cache.depth;
  packing_cache.in_body += in_body_;
}
GemmPackingScope::~GemmPackingScope() {
  packing_cache.in_body -= in_body_;
  if (--packing_cache.depth == 0)
    for (OperandEntry& e : packing_cache.entries) e = OperandEntry{};
}

void GemmPackingScope::keep(const Tensor& b) const {
  check(b.defined() && b.dim() == 2, "GemmPackingScope::keep: expects a 2-D right operand, got {}",
        b.defined() ? b.shape() : Dims{});
  if (b.dtype() == kFloat32 && packed_gemm_available() && scope_applies())
    packed_operand(b, /*keep_now=*/true);
}

void gemm(const Tensor& a, const Tensor& b, const Tensor& out, double alpha, double beta) {
  const auto [M, K, N] = check_product(a, b, out, "gemm");
  if (M > 0 && N > 0 && K > 0 && use_packed(a, alpha, beta)) {
    packed_product(a, b, out, beta == 1.0, Tensor());
    return;
  }
  if (M > 0 && N > 0 && K > 0 && own_kernel_faster(a, alpha, beta, M, K, N)) {
    // Inside a parallel loop's chunk: serial, so that the result does not depend on the thread.
    const bool parallel =
        intra_op_threads() > 1 && !detail::inside_parallel_body() && 2.0 * M * N * K >= 1e6;
    gemm_packed(a, PackedMatrix(b), out, beta == 1.0, parallel);
    return;
  }
  // OpenBLAS runs single-threaded (set_num_threads): a large product is cut into one slab of
  // rows (or columns) of out per seqgrad thread instead, each a single-threaded call. OpenBLAS's
  // own workers spin with sched_yield for ~0.1 s after every call, taking the cores from
  // seqgrad's threads in the elementwise ops between products (a fifth of a Transformer step at
  // 2 threads); seqgrad's pool spins briefly and then sleeps.
  if (intra_op_threads() > 1 && openblas_get_num_threads() == 1 &&
      !detail::inside_parallel_body() && 2.0 * M * N * K >= 4e6) {
    const bool by_rows = M >= N;
    parallel_for_chunks(by_rows ? M : N, [&](int, std::int64_t begin, std::int64_t end) {
      if (by_rows)
        gemm(a.narrow(0, begin, end - begin), b, out.narrow(0, begin, end - begin), alpha, beta);
      else
        gemm(a, b.narrow(1, begin, end - begin), out.narrow(1, begin, end - begin), alpha, beta);
    });
    out.bump_version();
    return;
  }
  out.bump_version();
  if (M == 0 || N == 0) return;
  const std::int64_t ldc =
      std::max<std::int64_t>(M == 1 ? N : out.stride(0), std::max<std::int64_t>(N, 1));
  if (K == 0) {
    if (beta == 0.0)
      out.zero_();
    else
      out.mul_(beta);
    return;
  }
  const BlasView A = blas_view(a), B = blas_view(b);
  const auto ta = A.trans ? CblasTrans : CblasNoTrans, tb = B.trans ? CblasTrans : CblasNoTrans;
  dispatch_floating(a.dtype(), "gemm", [&]<class T>() {
    if constexpr (std::is_same_v<T, float>) {
      cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, static_cast<float>(alpha), A.t.data<float>(),
                  A.ld, B.t.data<float>(), B.ld, static_cast<float>(beta), out.data<float>(), ldc);
    } else {
      cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A.t.data<double>(), A.ld,
                  B.t.data<double>(), B.ld, beta, out.data<double>(), ldc);
    }
  });
}

void addmm(const Tensor& bias, const Tensor& a, const Tensor& b, const Tensor& out) {
  const auto [M, K, N] = check_product(a, b, out, "addmm");
  check_defined(bias, "addmm");
  check(bias.dim() == 1 && bias.size(0) == N && bias.dtype() == a.dtype(),
        "addmm: bias must be a {} vector of {} values (the columns of {}), got {} {}", a.dtype(), N,
        out.shape(), bias.shape(), bias.dtype());
  if (M > 0 && N > 0 && K > 0 && use_packed(a, 1.0, 0.0) && bias.is_contiguous()) {
    packed_product(a, b, out, false, bias);
    return;
  }
  if (M > 0 && N > 0 && K > 0 && own_kernel_faster(a, 1.0, 0.0, M, K, N) && bias.is_contiguous()) {
    const bool parallel =
        intra_op_threads() > 1 && !detail::inside_parallel_body() && 2.0 * M * N * K >= 1e6;
    gemm_packed(a, PackedMatrix(b), out, false, parallel, bias);
    return;
  }
  out.copy_(bias);  // broadcast into every row, then accumulate the product
  gemm(a, b, out, 1.0, 1.0);
}

Tensor mm(const Tensor& a, const Tensor& b) {
  check_defined(a, "mm");
  check_defined(b, "mm");
  check(a.dim() == 2 && b.dim() == 2, "mm: expects 2-D operands, got shapes {} and {}", a.shape(),
        b.shape());
  check(a.size(1) == b.size(0), "mm: shapes {} and {} cannot be multiplied ({} != {})", a.shape(),
        b.shape(), a.size(1), b.size(0));
  check(a.dtype() == b.dtype(), "mm: dtypes {} and {} differ", a.dtype(), b.dtype());
  check(is_floating(a.dtype()), "mm: expected float32 or float64, got {}", a.dtype());
  Tensor out = Tensor::empty({a.size(0), b.size(1)}, a.dtype());
  gemm(a, b, out);
  return out;
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_defined(a, "bmm");
  check_defined(b, "bmm");
  check(a.dim() == 3 && b.dim() == 3, "bmm: expects 3-D operands, got shapes {} and {}", a.shape(),
        b.shape());
  check(a.size(0) == b.size(0) && a.size(2) == b.size(1),
        "bmm: shapes {} and {} cannot be multiplied", a.shape(), b.shape());
  return matmul(a, b);
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_defined(a, "matmul");
  check_defined(b, "matmul");
  check(a.dim() >= 1 && b.dim() >= 1,
        "matmul: operands must have at least one dim, got shapes "
        "{} and {}",
        a.shape(), b.shape());
  check(a.dtype() == b.dtype(), "matmul: dtypes {} and {} differ", a.dtype(), b.dtype());
  check(is_floating(a.dtype()), "matmul: expected float32 or float64, got {}", a.dtype());
  if (a.dim() == 1 && b.dim() == 1) {
    check(a.size(0) == b.size(0), "matmul: vectors of sizes {} and {} differ", a.size(0),
          b.size(0));
    return mm(a.unsqueeze(0), b.unsqueeze(1)).view({});
  }
  if (a.dim() == 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul(a, b.unsqueeze(1)).squeeze(-1);
  const std::int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  check(b.size(-2) == K, "matmul: shapes {} and {} cannot be multiplied ({} != {})", a.shape(),
        b.shape(), K, b.size(-2));
  if (a.dim() == 2 && b.dim() == 2) return mm(a, b);

  // Batched: broadcast the leading dims, then one GEMM per batch entry.
  Dims abatch(std::span(a.shape().begin(), a.shape().end() - 2));
  Dims bbatch(std::span(b.shape().begin(), b.shape().end() - 2));
  const Dims batch = broadcast_shapes(abatch, bbatch, "matmul");
  Dims ashape = batch, bshape = batch, oshape = batch;
  ashape.push_back(M);
  ashape.push_back(K);
  bshape.push_back(K);
  bshape.push_back(N);
  oshape.push_back(M);
  oshape.push_back(N);
  Tensor ae = a.expand(ashape), be = b.expand(bshape);
  // 2-D x N-D with a contiguous left operand folds the batch into M: one large GEMM.
  Tensor out = Tensor::empty(oshape, a.dtype());
  if (b.dim() == 2 && a.is_contiguous()) {
    gemm(a.view({-1, K}), b, out.view({-1, N}));
    return out;
  }
  const std::int64_t nb = batch.numel();
  Tensor a3 = ae.reshape({nb, M, K}), b3 = be.reshape({nb, K, N}), o3 = out.view({nb, M, N});
  for (std::int64_t i = 0; i < nb; ++i) gemm(a3.select(0, i), b3.select(0, i), o3.select(0, i));
  return out;
}

namespace detail {
void set_intra_op_threads(int n);  // tensor/parallel.cpp
}

void set_num_threads(int n, int blas_threads) {
  check(n >= 1 && blas_threads >= 0,
        "set_num_threads: need at least 1 thread, got {} (OpenBLAS threads {})", n, blas_threads);
  openblas_set_num_threads(blas_threads == 0 ? 1 : blas_threads);
  detail::set_intra_op_threads(n);
}
int get_num_threads() { return intra_op_threads(); }

}  // namespace seqgrad
