// Intra-op parallelism: seqgrad::set_num_threads(n) (tensor/linalg.h) sets both OpenBLAS's thread
// count and the threads parallel_for uses for seqgrad's own loops (im2col, pooling, ...).
#pragma once

#include <cstdint>

namespace seqgrad {

// Threads for seqgrad's own parallel loops (1 until set_num_threads is called).
int intra_op_threads();

namespace detail {
void run_parallel(std::int64_t n, int threads, void (*body)(void*, std::int64_t, std::int64_t),
                  void* ctx);
}

// Calls f(begin, end) on disjoint ranges covering [0, n), on up to intra_op_threads() threads.
// Serial when one thread is enough. f must not throw.
template <class F>
void parallel_for(std::int64_t n, F&& f) {
  const int threads = intra_op_threads();
  if (threads <= 1 || n <= 1) {
    if (n > 0) f(std::int64_t{0}, n);
    return;
  }
  detail::run_parallel(
      n, threads, [](void* ctx, std::int64_t b, std::int64_t e) { (*static_cast<F*>(ctx))(b, e); },
      &f);
}

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
