#include "tensor/parallel.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace seqgrad {

namespace {
std::atomic<int> threads{1};
}

int intra_op_threads() { return threads.load(std::memory_order_relaxed); }

namespace detail {
void set_intra_op_threads(int n) { threads.store(n, std::memory_order_relaxed); }

// Plain threads, started per call and joined: a few tens of microseconds against loops of
// milliseconds, and, unlike an OpenMP pool, no idle threads spinning while OpenBLAS's threads need
// the cores for the next GEMM.
void run_parallel(std::int64_t n, int chunks, void (*body)(void*, int, std::int64_t, std::int64_t),
                  void* ctx) {
  const std::int64_t t = chunks;
  std::vector<std::thread> workers;
  workers.reserve(static_cast<std::size_t>(t - 1));
  for (int id = 1; id < chunks; ++id)
    workers.emplace_back([=] { body(ctx, id, n * id / t, n * (id + 1) / t); });
  body(ctx, 0, 0, n / t);
  for (auto& w : workers) w.join();
}
}  // namespace detail

BlasSingleThreaded::BlasSingleThreaded() : previous_(openblas_get_num_threads()) {
  if (previous_ != 1) openblas_set_num_threads(1);
}
BlasSingleThreaded::~BlasSingleThreaded() {
  if (previous_ != 1) openblas_set_num_threads(previous_);
}

}  // namespace seqgrad
