#include "tensor/pool.h"

#include <array>
#include <cstdlib>

namespace seqgrad::detail {

namespace {

struct FreeBlock {
  FreeBlock* next;
};

// Trivially destructible on purpose: objects may still be freed during static destruction, after
// the thread's destructors have run, and must find a valid list then.
struct ThreadPool {
  std::array<FreeBlock*, kPoolMaxBytes / kPoolGranule + 1> lists{};
};

thread_local ThreadPool pool;

std::size_t size_class(std::size_t bytes) { return (bytes + kPoolGranule - 1) / kPoolGranule; }

}  // namespace

void* pool_allocate(std::size_t bytes) {
  if (bytes > kPoolMaxBytes) {
    if (void* p = std::malloc(bytes)) return p;
    throw std::bad_alloc();
  }
  const std::size_t c = size_class(bytes);
  if (FreeBlock* head = pool.lists[c]) {
    pool.lists[c] = head->next;
    return head;
  }
  if (void* p = std::malloc(c * kPoolGranule)) return p;
  throw std::bad_alloc();
}

void pool_deallocate(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (bytes > kPoolMaxBytes) {
    std::free(p);
    return;
  }
  const std::size_t c = size_class(bytes);
  auto* block = static_cast<FreeBlock*>(p);
  block->next = pool.lists[c];
  pool.lists[c] = block;
}

}  // namespace seqgrad::detail
