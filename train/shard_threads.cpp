#include "train/shard_threads.h"

#include "tensor/error.h"
#include "tensor/parallel.h"

namespace seqgrad::train {

ShardThreads::ShardThreads(int count) : count_(count), errors_(static_cast<std::size_t>(count)) {
  check(count >= 1, "ShardThreads: need at least one shard, got {}", count);
  threads_.reserve(static_cast<std::size_t>(count - 1));
  for (int shard = 1; shard < count; ++shard) threads_.emplace_back([this, shard] { work(shard); });
}

ShardThreads::~ShardThreads() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
    ++generation_;
  }
  start_.notify_all();
  for (auto& t : threads_) t.join();
}

void ShardThreads::call(int shard, const std::function<void(int)>& f) {
  const SerialScope serial;
  try {
    f(shard);
  } catch (...) {
    errors_[static_cast<std::size_t>(shard)] = std::current_exception();
  }
}

void ShardThreads::run(const std::function<void(int)>& f) {
  for (auto& e : errors_) e = nullptr;
  {
    const std::lock_guard lock(mutex_);
    job_ = &f;
    pending_ = count_ - 1;
    ++generation_;
  }
  start_.notify_all();
  call(0, f);
  {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
  }
  for (const auto& e : errors_)
    if (e) std::rethrow_exception(e);
}

void ShardThreads::work(int shard) {
  std::uint64_t seen = 0;
  for (;;) {
    const std::function<void(int)>* job = nullptr;
    {
      std::unique_lock lock(mutex_);
      start_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (stop_) return;
      job = job_;
    }
    call(shard, *job);
    {
      const std::lock_guard lock(mutex_);
      --pending_;
    }
    done_.notify_one();
  }
}

}  // namespace seqgrad::train
