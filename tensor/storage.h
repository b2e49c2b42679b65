// Storage: one block of memory shared by a tensor and all of its views. It also carries the
// version counter that autograd uses to detect in-place modification of a saved tensor: every
// in-place operation on any view bumps it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tensor/allocator.h"

namespace seqgrad {

class Storage {
 public:
  explicit Storage(std::size_t nbytes)
      : data_(CachingAllocator::global().allocate(nbytes, &capacity_)), nbytes_(nbytes) {}
  ~Storage() { CachingAllocator::global().deallocate(data_, capacity_); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  std::uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  // Atomic, as PyTorch's version counter is: threads that each write their own rows of one
  // output (conv2d's samples, a split GEMM) all bump it. Relaxed: it orders nothing, it only has to
  // change.
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::size_t capacity_ = 0;  // the block's real size (declared first: allocate() sets it)
  void* data_;
  std::size_t nbytes_;
  std::atomic<std::uint64_t> version_ = 0;
};

}  // namespace seqgrad
