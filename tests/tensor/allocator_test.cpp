// The caching allocator: size classes, reuse of freed blocks, and its counters.
#include <cstdint>

#include "helpers.h"

using namespace seqgrad;

TEST_CASE("allocator: round_size uses 64-byte steps up to 4 KiB, then quarter octaves") {
  using CA = CachingAllocator;
  CHECK(CA::round_size(0) == 64);
  CHECK(CA::round_size(1) == 64);
  CHECK(CA::round_size(64) == 64);
  CHECK(CA::round_size(65) == 128);
  CHECK(CA::round_size(1000) == 1024);
  CHECK(CA::round_size(4095) == 4096);
  CHECK(CA::round_size(4096) == 4096);
  // Above 4 KiB: the octave [4096, 8192) has classes 4096, 5120, 6144, 7168, 8192.
  CHECK(CA::round_size(4097) == 5120);
  CHECK(CA::round_size(5120) == 5120);
  CHECK(CA::round_size(5121) == 6144);
  CHECK(CA::round_size(8000) == 8192);
  CHECK(CA::round_size(8192) == 8192);
  CHECK(CA::round_size(8193) == 10240);
  const std::size_t mib = std::size_t{1} << 20;
  CHECK(CA::round_size(mib) == mib);
  CHECK(CA::round_size(mib + 1) == mib + mib / 4);
  // Never smaller than asked, at most 25% larger above 4 KiB, always a multiple of 64.
  for (std::size_t n = 1; n < (std::size_t{1} << 22); n = n * 3 / 2 + 7) {
    const std::size_t r = CA::round_size(n);
    CHECK(r >= n);
    CHECK(r % CA::kAlignment == 0);
    if (n > 4096) CHECK(r * 4 <= n * 5);
  }
}

TEST_CASE("allocator: a freed block is reused for the same size") {
  // An unusual size, so the block's class is unlikely to be cached by other tests.
  const Dims shape{123457};
  const std::size_t bytes = CachingAllocator::round_size(123457 * sizeof(float));
  const AllocatorStats before = allocator_stats();
  {
    Tensor t = empty(shape);
    const AllocatorStats during = allocator_stats();
    CHECK(during.live_bytes == before.live_bytes + bytes);
    CHECK(during.allocations == before.allocations + 1);
    CHECK(during.peak_bytes >= during.live_bytes);
  }
  const AllocatorStats freed = allocator_stats();
  CHECK(freed.live_bytes == before.live_bytes);
  CHECK(freed.cached_bytes >= bytes);
  CHECK(freed.peak_bytes >= before.live_bytes + bytes);
  {
    Tensor again = zeros(shape);
    const AllocatorStats reused = allocator_stats();
    CHECK(reused.system_allocations == freed.system_allocations);
    CHECK(reused.allocations == freed.allocations + 1);
    CHECK(reused.cached_bytes == freed.cached_bytes - bytes);
    CHECK(reused.live_bytes == before.live_bytes + bytes);
    CHECK(reused.peak_bytes >= reused.live_bytes);
  }
  CHECK(allocator_stats().live_bytes == before.live_bytes);

  // A size in the same class also reuses the block (123457 and 123400 floats round alike).
  REQUIRE(CachingAllocator::round_size(123400 * sizeof(float)) == bytes);
  const auto sys = allocator_stats().system_allocations;
  { Tensor similar = empty({123400}); }
  CHECK(allocator_stats().system_allocations == sys);
}

TEST_CASE("allocator: a repeated loop stops calling the system allocator") {
  Tensor a = ones({37, 53}), b = ones({53, 41});
  std::uint64_t after_first = 0;
  for (int step = 0; step < 5; ++step) {
    Tensor h = relu(matmul(a, b) * 0.5 + 1.0);
    Tensor s = sum(h, {1});  // every entry: 41 * (53 * 0.5 + 1)
    CHECK(s.to_vector<float>()[0] == 1127.5f);
    if (step == 0) after_first = allocator_stats().system_allocations;
  }
  CHECK(allocator_stats().system_allocations == after_first);
}

TEST_CASE("allocator: peak, reset_peak and release_cached") {
  auto& alloc = CachingAllocator::global();
  {
    Tensor big = empty({654321});  // about 2.6 MB
    CHECK(alloc.stats().peak_bytes >= alloc.stats().live_bytes);
  }
  CHECK(alloc.stats().peak_bytes >= alloc.stats().live_bytes);
  alloc.reset_peak();
  CHECK(alloc.stats().peak_bytes == alloc.stats().live_bytes);
  {
    Tensor t = empty({1000});
    CHECK(alloc.stats().peak_bytes >= alloc.stats().live_bytes);
  }

  const AllocatorStats before = alloc.stats();
  REQUIRE(before.cached_bytes > 0);
  alloc.release_cached();
  const AllocatorStats after = alloc.stats();
  CHECK(after.cached_bytes == 0);
  CHECK(after.system_frees > before.system_frees);
  CHECK(after.live_bytes == before.live_bytes);
  // With the cache empty, the next allocation goes to the system.
  { Tensor t = empty({654321}); }
  CHECK(alloc.stats().system_allocations == after.system_allocations + 1);
}

TEST_CASE("allocator: blocks are 64-byte aligned, raw allocate and deallocate") {
  for (std::int64_t n : {1, 3, 17, 1000, 5000}) {
    Tensor t = empty({n});
    CHECK(reinterpret_cast<std::uintptr_t>(t.raw_data()) % CachingAllocator::kAlignment == 0);
  }
  auto& alloc = CachingAllocator::global();
  const auto live = alloc.stats().live_bytes;
  void* p = alloc.allocate(100);
  REQUIRE(p != nullptr);
  CHECK(reinterpret_cast<std::uintptr_t>(p) % CachingAllocator::kAlignment == 0);
  CHECK(alloc.stats().live_bytes == live + 128);
  alloc.deallocate(p, 100);
  CHECK(alloc.stats().live_bytes == live);
  alloc.deallocate(nullptr, 100);  // a no-op
  CHECK(alloc.stats().live_bytes == live);
}

TEST_CASE("allocator: a tensor reuses a cached block of a larger class, up to 4x its size") {
  auto& alloc = CachingAllocator::global();
  alloc.release_cached();
  const std::size_t big_block = CachingAllocator::round_size(1234567 * sizeof(float));
  const auto sys = alloc.stats().system_allocations;
  { Tensor big = empty({1234567}); }
  CHECK(alloc.stats().system_allocations == sys + 1);
  {
    // 700,000 floats round to a smaller class, but the cached 4.9 MB block is within 4x.
    Tensor smaller = empty({700000});
    CHECK(alloc.stats().system_allocations == sys + 1);
    CHECK(alloc.stats().cached_bytes == 0);
    CHECK(CachingAllocator::class_size(CachingAllocator::size_class(big_block)) == big_block);
  }
  // Back in its own class: the big size is served from the cache again.
  { Tensor big_again = empty({1234567}); }
  CHECK(alloc.stats().system_allocations == sys + 1);
  // A request under a quarter of the cached block's size does not take it.
  { Tensor tiny = empty({100000}); }
  CHECK(alloc.stats().system_allocations == sys + 2);
}
