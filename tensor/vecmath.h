// Branch-free float32 exp, tanh and sigmoid that the compiler vectorises when they are called in a
// loop (glibc's expf/tanhf are scalar calls, ~10x slower on a 64x256 tensor). Accurate to a few
// ulp; tests/tensor/vecmath_test.cpp checks them against the C library over a wide range.
// float64 keeps the C library functions: it is the dtype of gradient checks, where accuracy rules.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace seqgrad::vecmath {

// Always inlined: a loop vectorises only when these are inlined into it, and GCC's own heuristics
// decline to when the loop sits deep in templates and lambdas (the gate math that
// nn/recurrence.h's loop runs); a call per element then keeps the loop scalar.

// e^x: x = n ln2 + r with |r| <= ln2/2, e^r by Cephes' degree-6 polynomial, 2^n from the exponent
// bits. ln2 is split in two (C1 exact in float) so that r is accurate.
[[gnu::always_inline]] inline float exp(float x) {
  const float hi = 88.3762626647949f, lo = -87.3365447504f;
  const float xc = x > hi ? hi : (x < lo ? lo : x);
  const float n = std::floor(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  const float scale = std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);
  float y = er * scale;
  y = x > hi ? INFINITY : y;
  y = x < lo ? 0.0f : y;
  return x != x ? x : y;  // NaN in, NaN out
}

// 1 / (1 + e^-x): exact limits 0 and 1 at the extremes (e^-x = inf gives 0).
[[gnu::always_inline]] inline float sigmoid(float x) { return 1.0f / (1.0f + vecmath::exp(-x)); }

// Small |x|: the odd Taylor series (terms to x^17: error < 1e-9 below 0.55).
// Otherwise 1 - 2 / (e^{2|x|} + 1), with the sign restored; no cancellation there since
// tanh(0.55) ~ 0.5.
[[gnu::always_inline]] inline float tanh(float x) {
  const float ax = x < 0 ? -x : x;
  const float x2 = x * x;
  // Horner form of x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835 - 1382x^11/155925
  //                + 21844x^13/6081075 - 929569x^15/638512875 + 6404582x^17/10854718875
  float q = 6404582.0f / 10854718875.0f;
  q = q * x2 - 929569.0f / 638512875.0f;
  q = q * x2 + 21844.0f / 6081075.0f;
  q = q * x2 - 1382.0f / 155925.0f;
  q = q * x2 + 62.0f / 2835.0f;
  q = q * x2 - 17.0f / 315.0f;
  q = q * x2 + 2.0f / 15.0f;
  q = q * x2 - 1.0f / 3.0f;
  const float small = x + x * x2 * q;
  const float big = 1.0f - 2.0f / (vecmath::exp(2.0f * ax) + 1.0f);
  const float signed_big = x < 0 ? -big : big;
  const float y = ax < 0.55f ? small : signed_big;
  return x != x ? x : y;
}

}  // namespace seqgrad::vecmath
