#include "tensor/allocator.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <new>

#include "tensor/error.h"

namespace seqgrad {

CachingAllocator& CachingAllocator::global() {
  static auto* instance = new CachingAllocator();  // intentionally never destroyed
  return *instance;
}

std::size_t CachingAllocator::round_size(std::size_t nbytes) {
  if (nbytes == 0) nbytes = 1;
  if (nbytes <= 4096) return (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  const std::size_t octave = std::bit_floor(nbytes) / 4;  // four classes per power of two
  return (nbytes + octave - 1) / octave * octave;
}

std::size_t CachingAllocator::size_class(std::size_t rounded) {
  if (rounded <= 4096) return rounded / kAlignment - 1;
  // rounded = k * 2^(e-2) with 2^e <= rounded < 2^(e+1), so k is 4..7.
  const int e = std::bit_width(rounded) - 1;
  const std::size_t k = rounded >> (e - 2);
  return 64 + static_cast<std::size_t>(e - 12) * 4 + (k - 4);
}

void* CachingAllocator::allocate(std::size_t nbytes) {
  const std::size_t size = round_size(nbytes);
  {
    std::lock_guard lock(mutex_);
    ++stats_.allocations;
    stats_.live_bytes += size;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.live_bytes);
    std::vector<void*>& list = free_lists_[size_class(size)];
    if (!list.empty()) {
      void* p = list.back();
      list.pop_back();
      stats_.cached_bytes -= size;
      return p;
    }
    ++stats_.system_allocations;
  }
  void* p = std::aligned_alloc(kAlignment, size);
  if (p == nullptr) {
    // Give the cache back and try once more before reporting.
    release_cached();
    p = std::aligned_alloc(kAlignment, size);
    if (p == nullptr) {
      std::lock_guard lock(mutex_);
      stats_.live_bytes -= size;
      fail("allocate: out of memory allocating {} bytes", size);
    }
  }
  return p;
}

void CachingAllocator::deallocate(void* ptr, std::size_t nbytes) {
  if (ptr == nullptr) return;
  const std::size_t size = round_size(nbytes);
  std::lock_guard lock(mutex_);
  stats_.live_bytes -= size;
  stats_.cached_bytes += size;
  free_lists_[size_class(size)].push_back(ptr);
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard lock(mutex_);
  stats_.peak_bytes = stats_.live_bytes;
}

void CachingAllocator::release_cached() {
  std::lock_guard lock(mutex_);
  for (auto& blocks : free_lists_) {
    for (void* p : blocks) std::free(p);
    stats_.system_frees += blocks.size();
    blocks.clear();
  }
  stats_.cached_bytes = 0;
}

}  // namespace seqgrad
