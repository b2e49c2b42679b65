// A compiler canary: GCC 12 with AVX-512 stores {1, 1, 0, 0} as {1, 1, 1, 1} (see
// constant_canary.h and the workaround in the top CMakeLists.txt). The first case runs the stores
// compiled with the build's own flags; the second the same stores compiled for AVX-512, where the
// CPU has it. Either fails if the workaround is dropped on a compiler that still has the bug.
#include <doctest/doctest.h>

#include <cstring>

#include "tensor/constant_canary.h"

using seqgrad::testing::canary::Constants;
using seqgrad::testing::canary::kExpected;

#if defined(SEQGRAD_CANARY_AVX512)
extern "C" void seqgrad_canary_store_avx512(Constants* out);
#endif

namespace {

void check_constants(const Constants& got) {
  CHECK(std::memcmp(got.d4, kExpected.d4, sizeof got.d4) == 0);
  CHECK(std::memcmp(got.d8, kExpected.d8, sizeof got.d8) == 0);
  CHECK(std::memcmp(got.d8_six, kExpected.d8_six, sizeof got.d8_six) == 0);
  CHECK(std::memcmp(got.f8, kExpected.f8, sizeof got.f8) == 0);
  CHECK(std::memcmp(got.i4, kExpected.i4, sizeof got.i4) == 0);
  CHECK(got.d4[2] == 0.0);  // the value the miscompiled store got wrong, for a readable failure
}

}  // namespace

TEST_CASE("compiler canary: constants with a zero upper half are stored as written") {
  Constants got{};
  seqgrad::testing::canary::store_constants(&got);
  check_constants(got);
}

TEST_CASE("compiler canary: the same stores compiled for AVX-512") {
#if defined(SEQGRAD_CANARY_AVX512)
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512vl")) {
    MESSAGE("this CPU has no AVX-512: the AVX-512 stores are not run here");
    return;
  }
  Constants got{};
  seqgrad_canary_store_avx512(&got);
  check_constants(got);
#else
  MESSAGE("this compiler cannot target x86-64-v4: nothing to run");
#endif
}
