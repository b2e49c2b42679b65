// What the fused recurrent kernels (functional_rnn.cpp, functional_lstm.cpp, functional_gru.cpp)
// share: argument checks, the order of steps, which (step, sequence) pairs are live, and the
// final weight-gradient GEMM. Internal to nn/.
//
// Buffers are indexed two ways. Tensors the caller sees (gx, outputs) are indexed by time t.
// Saved states are indexed by processing step i (t = i forward, t = T-1-i in reverse), so that
// "the state before step i" is always row i of S [T+1, B, H], and the weight gradient is one GEMM
// over rows 0..T-1 whatever the direction.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "autograd/node.h"
#include "tensor/vecmath.h"

namespace seqgrad::nn::detail {

struct Recurrence {
  std::int64_t T = 0, B = 0, H = 0, G = 0;  // steps, sequences, hidden size, gates
  bool reverse = false;
  bool bias_per_row = false;  // b_hh is [B, G*H] (a per-sequence term) instead of [G*H]
  std::vector<std::int64_t> lengths;

  std::int64_t time(std::int64_t i) const { return reverse ? T - 1 - i : i; }
  bool live(std::int64_t t, std::int64_t b) const { return t < lengths[static_cast<size_t>(b)]; }
};

// Validates shapes, dtypes and lengths (errors name `op` and the shapes) and fills Recurrence.
Recurrence check_recurrence(const char* op, std::int64_t gates, const Variable& gx,
                            const Variable& h0, const Variable& w_hh, const Variable& b_hh,
                            const std::vector<std::int64_t>& lengths, bool reverse);

// A [T, B, X] buffer seen as [T*B, X]: the weight gradient of all steps is then one GEMM,
// dW_hh = dGH^T @ S (per-step products would have K = B only and run far less efficiently).
inline Tensor step_rows(const Tensor& x) { return x.view({x.size(0) * x.size(1), x.size(2)}); }

// dL/db_hh: dGH summed over steps (and over sequences unless the bias is per sequence).
Tensor bias_grad(const Tensor& dgh, const Recurrence& r);

// Float32 uses seqgrad's vectorisable approximations, float64 (gradient checks) the C library.
template <class T>
inline T sigmoid(T x) {
  if constexpr (sizeof(T) == 4)
    return vecmath::sigmoid(x);
  else
    return T(1) / (T(1) + std::exp(-x));
}
template <class T>
inline T tanh(T x) {
  if constexpr (sizeof(T) == 4)
    return vecmath::tanh(x);
  else
    return std::tanh(x);
}

}  // namespace seqgrad::nn::detail
