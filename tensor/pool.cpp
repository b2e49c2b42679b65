#include "tensor/pool.h"

#include <array>
#include <cstdlib>
#include <utility>

namespace seqgrad::detail {

namespace {

struct FreeBlock {
  FreeBlock* next;
};

// Set when this thread's pool has been torn down. Trivially destructible, so it can still be read
// while the thread (or the process) exits: objects freed after that go straight to free().
thread_local bool pool_gone = false;

struct ThreadPool {
  std::array<FreeBlock*, kPoolMaxBytes / kPoolGranule + 1> lists{};
  ~ThreadPool() {
    pool_gone = true;
    for (FreeBlock* head : lists)
      while (head) std::free(std::exchange(head, head->next));
  }
};

thread_local ThreadPool pool;

std::size_t size_class(std::size_t bytes) { return (bytes + kPoolGranule - 1) / kPoolGranule; }

}  // namespace

void* pool_allocate(std::size_t bytes) {
  if (bytes > kPoolMaxBytes || pool_gone) {
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
  if (bytes > kPoolMaxBytes || pool_gone) {
    std::free(p);
    return;
  }
  const std::size_t c = size_class(bytes);
  auto* block = static_cast<FreeBlock*>(p);
  block->next = pool.lists[c];
  pool.lists[c] = block;
}

}  // namespace seqgrad::detail
