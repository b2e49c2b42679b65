#include "tensor/allocator.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <new>

#include "tensor/error.h"

// Under AddressSanitizer a cached block is poisoned while it sits in a free list, and only the
// bytes a tensor asked for are unpoisoned when it is handed out: a use after free, or a read
// past the end into the rounding slack, is reported although the memory never went back to
// malloc.
#if defined(__SANITIZE_ADDRESS__)
#define SEQGRAD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SEQGRAD_ASAN 1
#endif
#endif
#ifdef SEQGRAD_ASAN
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

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

std::size_t CachingAllocator::class_size(std::size_t c) {
  if (c < 64) return (c + 1) * kAlignment;
  const std::size_t e = 12 + (c - 64) / 4, k = 4 + (c - 64) % 4;
  return k << (e - 2);
}

void* CachingAllocator::allocate(std::size_t nbytes, std::size_t* capacity) {
  const std::size_t size = round_size(nbytes), exact = size_class(size);
  {
    std::lock_guard lock(mutex_);
    ++stats_.allocations;
    // The exact size class first; a caller that takes the capacity back may also get a cached
    // block of a larger class, up to 4x the size (or 16 KiB for small requests). Batches of
    // varying length then reuse the blocks of the longest batch seen instead of calling the
    // system for each new size.
    const std::size_t last = capacity == nullptr ? exact : kClasses - 1;
    const std::size_t limit = std::max<std::size_t>(4 * size, 16384);
    for (std::size_t c = exact; c <= last && class_size(c) <= limit; ++c) {
      std::vector<void*>& list = free_lists_[c];
      if (list.empty()) continue;
      void* p = list.back();
      list.pop_back();
      const std::size_t block = class_size(c);
      stats_.cached_bytes -= block;
      stats_.live_bytes += block;
      stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.live_bytes);
      if (capacity != nullptr) *capacity = block;
      ASAN_UNPOISON_MEMORY_REGION(p, nbytes);
      return p;
    }
    ++stats_.system_allocations;
    stats_.live_bytes += size;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.live_bytes);
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
  if (capacity != nullptr) *capacity = size;
  ASAN_POISON_MEMORY_REGION(static_cast<char*>(p) + nbytes, size - nbytes);
  return p;
}

void CachingAllocator::deallocate(void* ptr, std::size_t nbytes) {
  if (ptr == nullptr) return;
  const std::size_t size = round_size(nbytes);
  ASAN_POISON_MEMORY_REGION(ptr, size);
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
    for (void* p : blocks) std::free(p);  // ASan's free() accepts poisoned blocks
    stats_.system_frees += blocks.size();
    blocks.clear();
  }
  stats_.cached_bytes = 0;
}

}  // namespace seqgrad
