// A caching allocator: freed blocks go to a free list keyed by their (rounded) size and are handed
// out again, so a training loop that repeats the same shapes stops calling the system allocator
// after its first step. The counters make that visible to tests and benchmarks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace seqgrad {

struct AllocatorStats {
  std::size_t live_bytes = 0;            // held by tensors right now
  std::size_t peak_bytes = 0;            // highest live_bytes since start (or reset_peak)
  std::size_t cached_bytes = 0;          // freed by tensors, kept for reuse
  std::uint64_t allocations = 0;         // requests served (from cache or system)
  std::uint64_t system_allocations = 0;  // requests that had to call the system allocator
  std::uint64_t system_frees = 0;        // blocks given back by release_cached()
};

class CachingAllocator {
 public:
  static constexpr std::size_t kAlignment = 64;  // a cache line; enough for AVX-512 loads

  // The process-wide allocator every Storage uses. It lives until exit and is never destroyed,
  // so tensors in static objects can still be freed safely during shutdown.
  static CachingAllocator& global();

  // A block of at least nbytes. With `capacity`, the block may come from a larger size class
  // (at most 4x, or 16 KiB) and *capacity receives its real size, which deallocate must then be
  // given.
  void* allocate(std::size_t nbytes, std::size_t* capacity = nullptr);
  // nbytes: as asked of allocate, or the capacity it returned.
  void deallocate(void* ptr, std::size_t nbytes);
  AllocatorStats stats() const;
  void reset_peak();
  void release_cached();  // returns every cached block to the system

  // Size classes: multiples of 64 bytes up to 4 KiB, then four classes per power of two, so a block
  // is at most 25% larger than asked and similar sizes share a free list.
  static std::size_t round_size(std::size_t nbytes);
  // Index of a rounded size's free list: 64 lists up to 4 KiB, then four per power of two.
  static std::size_t size_class(std::size_t rounded);
  static std::size_t class_size(std::size_t size_class);  // the inverse

 private:
  static constexpr std::size_t kClasses = 64 + 4 * 52;  // up to 2^64 bytes
  mutable std::mutex mutex_;
  std::vector<std::vector<void*>> free_lists_ = std::vector<std::vector<void*>>(kClasses);
  AllocatorStats stats_;
};

inline AllocatorStats allocator_stats() { return CachingAllocator::global().stats(); }

}  // namespace seqgrad
