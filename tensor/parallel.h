// Intra-op parallelism: seqgrad::set_num_threads(n) (tensor/linalg.h) sets both OpenBLAS's thread
// count and the threads parallel_for uses for seqgrad's own loops (im2col, pooling, ...).
#pragma once

#include <algorithm>
#include <cstdint>

namespace seqgrad {

// Threads for seqgrad's own parallel loops (1 until set_num_threads is called; 1 on a thread inside
// a SerialScope).
int intra_op_threads();

namespace detail {
void run_parallel(std::int64_t n, int chunks, void (*body)(void*, int, std::int64_t, std::int64_t),
                  void* ctx);
// Whether this thread is running a chunk of a parallel loop (gemm then stays off the packed path,
// so that a chunk's products do not depend on which thread runs it).
bool inside_parallel_body();
}  // namespace detail

// How many chunks parallel_for_chunks splits [0, n) into: min(intra_op_threads(), n), at least 1.
inline int parallel_chunks(std::int64_t n) {
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(intra_op_threads(), n)));
}

// Calls f(chunk, begin, end) for chunk = 0 .. parallel_chunks(n)-1 on disjoint ranges covering
// [0, n), one thread per chunk. The chunk index lets a loop keep per-thread partial results (a
// weight gradient, a sum) that the caller reduces afterwards. If f throws, the first exception is
// rethrown here once every chunk has finished.
template <class F>
void parallel_for_chunks(std::int64_t n, F&& f) {
  const int chunks = parallel_chunks(n);
  if (chunks == 1) {
    if (n > 0) f(0, std::int64_t{0}, n);
    return;
  }
  detail::run_parallel(
      n, chunks,
      [](void* ctx, int chunk, std::int64_t b, std::int64_t e) {
        (*static_cast<F*>(ctx))(chunk, b, e);
      },
      &f);
}

// Calls f(begin, end) on disjoint ranges covering [0, n), on up to intra_op_threads() threads.
// Serial when one thread is enough. Exceptions as for parallel_for_chunks.
template <class F>
void parallel_for(std::int64_t n, F&& f) {
  parallel_for_chunks(n, [&f](int, std::int64_t b, std::int64_t e) { f(b, e); });
}

// While alive, the parallel loops started on this thread run serially (intra_op_threads() is 1
// here): for a thread that is itself one of several working side by side, as the shards of
// data-parallel training (train::Trainer::fit_data_parallel) are. Other threads are unaffected.
class SerialScope {
 public:
  SerialScope();
  ~SerialScope();
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;
};

// While alive, OpenBLAS runs single-threaded: for GEMMs issued from inside parallel_for, where
// the parallelism is already outside BLAS.
class BlasSingleThreaded {
 public:
  BlasSingleThreaded();
  ~BlasSingleThreaded();
  BlasSingleThreaded(const BlasSingleThreaded&) = delete;
  BlasSingleThreaded& operator=(const BlasSingleThreaded&) = delete;

 private:
  int previous_;
};

}  // namespace seqgrad
