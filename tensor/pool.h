// A per-thread pool for the small objects every operation creates (tensor storage headers, graph
// nodes, their edge lists and backward closures). Freed blocks go on an intrusive free list per
// 16-byte size class and are reused, so recording an op costs no trips to malloc in steady state.
// A block freed on another thread joins that thread's lists; a thread's lists are returned to the
// system when it exits.
#pragma once

#include <cstddef>
#include <new>

namespace seqgrad {

namespace detail {
inline constexpr std::size_t kPoolGranule = 16;
inline constexpr std::size_t kPoolMaxBytes = 1024;
void* pool_allocate(std::size_t bytes);
void pool_deallocate(void* p, std::size_t bytes) noexcept;
}  // namespace detail

// A standard allocator over the pool, for std::allocate_shared and std::vector.
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(detail::pool_allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { detail::pool_deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace seqgrad
