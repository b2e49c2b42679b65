#include "tensor/parallel.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <atomic>

namespace seqgrad {

namespace {
std::atomic<int> threads{1};
}

int intra_op_threads() { return threads.load(std::memory_order_relaxed); }

namespace detail {
void set_intra_op_threads(int n) { threads.store(n, std::memory_order_relaxed); }

void run_parallel(std::int64_t n, int nthreads, void (*body)(void*, std::int64_t, std::int64_t),
                  void* ctx) {
  const int t = static_cast<int>(std::min<std::int64_t>(nthreads, n));
#pragma omp parallel num_threads(t)
  {
    const std::int64_t id = omp_get_thread_num(), count = omp_get_num_threads();
    const std::int64_t begin = n * id / count, end = n * (id + 1) / count;
    if (begin < end) body(ctx, begin, end);
  }
}
}  // namespace detail

BlasSingleThreaded::BlasSingleThreaded() : previous_(openblas_get_num_threads()) {
  if (previous_ != 1) openblas_set_num_threads(1);
}
BlasSingleThreaded::~BlasSingleThreaded() {
  if (previous_ != 1) openblas_set_num_threads(previous_);
}

}  // namespace seqgrad
