// The threads of data-parallel training: run(f) calls f(0) on the caller and f(1) .. f(count-1)
// on threads kept between calls, side by side, and returns when all are done. Each call runs
// inside a SerialScope (its own loops stay on its thread) and the threads persist because every
// thread keeps per-thread caches (small-object pool, packed weights) that a shard's graph reuses
// step after step. The first exception (lowest shard) is rethrown once every call has finished.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace seqgrad::train {

class ShardThreads {
 public:
  explicit ShardThreads(int count);  // count >= 1; count - 1 threads are started
  ~ShardThreads();
  ShardThreads(const ShardThreads&) = delete;
  ShardThreads& operator=(const ShardThreads&) = delete;

  int count() const { return count_; }
  void run(const std::function<void(int)>& f);

 private:
  void work(int shard);
  void call(int shard, const std::function<void(int)>& f);

  const int count_;
  std::mutex mutex_;
  std::condition_variable start_, done_;
  const std::function<void(int)>* job_ = nullptr;
  std::uint64_t generation_ = 0;  // bumped for each job (and to stop)
  int pending_ = 0;               // threads still on the current job
  bool stop_ = false;
  std::vector<std::exception_ptr> errors_;
  std::vector<std::thread> threads_;
};

}  // namespace seqgrad::train
