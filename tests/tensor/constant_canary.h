// Stores of 32- and 64-byte constants whose upper half is zero: the shape of code that GCC 12
// miscompiles with AVX-512 on (it broadcasts the low half: {1, 1, 0, 0} becomes {1, 1, 1, 1}).
// std::vector<double>{1, 1, 0, 0} compiles to exactly this. The functions are static, so each
// test file that includes this header gets its own copy compiled with its own flags, and are kept
// out of inlining and interprocedural analysis, so the constant really is stored to memory.
#pragma once

#if defined(__clang__)
#define SEQGRAD_CANARY_OPAQUE __attribute__((noinline))
#else
#define SEQGRAD_CANARY_OPAQUE __attribute__((noipa))
#endif

namespace seqgrad::testing::canary {

struct Constants {
  double d4[4];      // one ymm register
  double d8[8];      // one zmm register
  double d8_six[8];  // a zmm register, only the last two lanes zero
  float f8[8];       // float lanes
  long long i4[4];   // integer lanes
};

// What every store must read back as.
inline constexpr Constants kExpected = {{1, 1, 0, 0},
                                        {1, 1, 0, 0, 0, 0, 0, 0},
                                        {1, 1, 1, 1, 1, 1, 0, 0},
                                        {1, 1, 1, 1, 0, 0, 0, 0},
                                        {7, 7, 0, 0}};

SEQGRAD_CANARY_OPAQUE static void store_constants(Constants* out) {
  const double d4[4] = {1, 1, 0, 0};
  const double d8[8] = {1, 1, 0, 0, 0, 0, 0, 0};
  const double d8_six[8] = {1, 1, 1, 1, 1, 1, 0, 0};
  const float f8[8] = {1, 1, 1, 1, 0, 0, 0, 0};
  const long long i4[4] = {7, 7, 0, 0};
  __builtin_memcpy(out->d4, d4, sizeof d4);
  __builtin_memcpy(out->d8, d8, sizeof d8);
  __builtin_memcpy(out->d8_six, d8_six, sizeof d8_six);
  __builtin_memcpy(out->f8, f8, sizeof f8);
  __builtin_memcpy(out->i4, i4, sizeof i4);
}

}  // namespace seqgrad::testing::canary
