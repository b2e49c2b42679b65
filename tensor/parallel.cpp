#include "tensor/parallel.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SEQGRAD_CPU_RELAX() _mm_pause()
#else
#define SEQGRAD_CPU_RELAX() std::this_thread::yield()
#endif

namespace seqgrad {

namespace {
std::atomic<int> threads{1};

using Body = void (*)(void*, int, std::int64_t, std::int64_t);

// Waits until `a` differs from `old`: spins for a few tens of microseconds first (a recurrent
// kernel hands out a new product every step, far sooner than a sleeping thread wakes), then sleeps
// on the futex so that an idle worker does not take a core from OpenBLAS or another process.
void wait_for_change(const std::atomic<std::uint32_t>& a, std::uint32_t old) {
  for (int i = 0; i < 2000; ++i) {
    if (a.load(std::memory_order_acquire) != old) return;
    SEQGRAD_CPU_RELAX();
  }
  while (a.load(std::memory_order_acquire) == old) a.wait(old, std::memory_order_acquire);
}

thread_local bool inside_body = false;  // this thread is running a chunk of a parallel loop

// Runs one chunk with inside_body set; an exception is kept in `error` (the first one wins) for
// the caller to rethrow once every chunk has finished, instead of escaping a thread.
void run_chunk(Body body, void* ctx, int chunk, std::int64_t b, std::int64_t e,
               std::atomic<bool>& failed, std::exception_ptr& error) {
  const bool outer = inside_body;
  inside_body = true;
  try {
    body(ctx, chunk, b, e);
  } catch (...) {
    if (!failed.exchange(true, std::memory_order_acq_rel)) error = std::current_exception();
  }
  inside_body = outer;
}

// Worker threads kept between parallel loops: starting a thread per loop costs tens of
// microseconds, as much as a per-step GEMM at hidden 128. Worker w runs chunk w + 1 of each job;
// the calling thread runs chunk 0. One job at a time: a second caller (another thread, or a loop
// nested inside a chunk) finds the pool busy and starts its own threads instead.
class WorkerPool {
 public:
  static WorkerPool& global() {
    static WorkerPool pool;
    return pool;
  }

  // False when the pool is busy; the caller then runs the job another way.
  bool try_run(std::int64_t n, int chunks, Body body, void* ctx) {
    if (busy_.exchange(true, std::memory_order_acquire)) return false;
    struct Release {  // also when starting a worker throws, or a chunk's exception is rethrown
      std::atomic<bool>& busy;
      ~Release() { busy.store(false, std::memory_order_release); }
    } release{busy_};
    while (static_cast<int>(workers_.size()) < chunks - 1) {
      const int id = static_cast<int>(workers_.size());
      const std::uint32_t now = generation_.load(std::memory_order_relaxed);
      workers_.emplace_back([this, id, now] { work(id, now); });
    }
    n_ = n;
    chunks_ = chunks;
    body_ = body;
    ctx_ = ctx;
    failed_.store(false, std::memory_order_relaxed);
    error_ = nullptr;
    pending_.store(static_cast<std::uint32_t>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    run_chunk(body, ctx, 0, 0, n / chunks, failed_, error_);
    for (std::uint32_t left; (left = pending_.load(std::memory_order_acquire)) != 0;)
      wait_for_change(pending_, left);
    if (error_) std::rethrow_exception(error_);
    return true;
  }

  ~WorkerPool() {
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (auto& w : workers_) w.join();
  }

 private:
  // `seen`: the generation before the job this worker was started for.
  void work(int id, std::uint32_t seen) {
    for (;;) {
      wait_for_change(generation_, seen);
      seen = generation_.load(std::memory_order_acquire);
      if (stop_) return;
      const std::int64_t t = chunks_, c = id + 1;
      if (c < t)
        run_chunk(body_, ctx_, static_cast<int>(c), n_ * c / t, n_ * (c + 1) / t, failed_, error_);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
  }

  std::atomic<bool> busy_{false};
  std::vector<std::thread> workers_;
  // The job, written before generation_ is bumped (release) and read after (acquire); error_ is
  // written by at most one chunk and read after pending_ reaches 0.
  std::int64_t n_ = 0;
  int chunks_ = 1;
  Body body_ = nullptr;
  void* ctx_ = nullptr;
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint32_t> generation_{0};
  std::atomic<std::uint32_t> pending_{0};  // workers not yet done with this job
};

thread_local int serial_depth = 0;  // SerialScopes alive on this thread

}  // namespace

int intra_op_threads() { return serial_depth > 0 ? 1 : threads.load(std::memory_order_relaxed); }

SerialScope::SerialScope() { ++serial_depth; }
SerialScope::~SerialScope() { --serial_depth; }

namespace detail {
void set_intra_op_threads(int n) { threads.store(n, std::memory_order_relaxed); }

bool inside_parallel_body() { return inside_body; }

void run_parallel(std::int64_t n, int chunks, Body body, void* ctx) {
  if (WorkerPool::global().try_run(n, chunks, body, ctx)) return;
  const std::int64_t t = chunks;
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::vector<std::thread> workers;
  workers.reserve(static_cast<std::size_t>(t - 1));
  for (int id = 1; id < chunks; ++id)
    workers.emplace_back(
        [&, id] { run_chunk(body, ctx, id, n * id / t, n * (id + 1) / t, failed, error); });
  run_chunk(body, ctx, 0, 0, n / t, failed, error);
  for (auto& w : workers) w.join();
  if (error) std::rethrow_exception(error);
}
}  // namespace detail

BlasSingleThreaded::BlasSingleThreaded() : previous_(openblas_get_num_threads()) {
  if (previous_ != 1) openblas_set_num_threads(1);
}
BlasSingleThreaded::~BlasSingleThreaded() {
  if (previous_ != 1) openblas_set_num_threads(previous_);
}

}  // namespace seqgrad
