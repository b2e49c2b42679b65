// What the fused recurrent kernels (functional_rnn.cpp, functional_lstm.cpp, functional_gru.cpp)
// share: argument checks, the order of steps, which (step, sequence) pairs are live, and the
// final weight-gradient GEMM. Internal to nn/.
//
// Buffers are indexed two ways. Tensors the caller sees (gx, outputs) are indexed by time t and
// the caller's sequence order b. Saved states are indexed by processing step i (t = i forward,
// t = T-1-i in reverse), so that "the state before step i" is always row i of S [T+1, B, H] and
// the weight gradient is one GEMM over rows 0..T-1 whatever the direction; and their sequences are
// sorted by decreasing length (row k holds sequence order[k]), so that the sequences still running
// at any step are rows 0..live_rows(t)-1 and each step's GEMM skips the padding (what PyTorch's
// packed sequences do), whatever order the caller's batch is in.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "autograd/node.h"
#include "tensor/parallel.h"
#include "tensor/vecmath.h"

namespace seqgrad::nn::detail {

struct Recurrence {
  std::int64_t T = 0, B = 0, H = 0, G = 0;  // steps, sequences, hidden size, gates
  bool reverse = false;
  bool bias_per_row = false;          // b_hh is [B, G*H] (a per-sequence term) instead of [G*H]
  std::vector<std::int64_t> lengths;  // per sequence, in the caller's order
  std::vector<std::int64_t> order;    // order[k]: the caller's index of sorted row k
  std::vector<std::int64_t> live;     // live[t]: sequences with length > t (a prefix of rows)

  std::int64_t time(std::int64_t i) const { return reverse ? T - 1 - i : i; }
  std::int64_t live_rows(std::int64_t t) const { return live[static_cast<std::size_t>(t)]; }
  std::int64_t row(std::int64_t k) const { return order[static_cast<std::size_t>(k)]; }
};

// Checks that `lengths` holds one length in [0, T] per sequence of a batch of B (errors name `op`,
// the sequence and its length) and returns their sum, the live positions. Shared by the recurrent
// kernels and pack_padded / pad_packed, so that a bad length reads the same everywhere.
std::int64_t check_lengths(const char* op, std::int64_t T, std::int64_t B,
                           const std::vector<std::int64_t>& lengths);

// Validates shapes, dtypes and lengths (errors name `op` and the shapes) and fills Recurrence.
Recurrence check_recurrence(const char* op, std::int64_t gates, const Variable& gx,
                            const Variable& h0, const Variable& w_hh, const Variable& b_hh,
                            const std::vector<std::int64_t>& lengths, bool reverse);

// A [T, B, X] buffer seen as [T*B, X]: the weight gradient of all steps is then one GEMM,
// dW_hh = dGH^T @ S (per-step products would have K = B only and run far less efficiently).
inline Tensor step_rows(const Tensor& x) { return x.view({x.size(0) * x.size(1), x.size(2)}); }

// dL/db_hh: dGH (sorted rows) summed over steps, and over sequences unless the bias is per
// sequence (then returned in the caller's order).
Tensor bias_grad(const Tensor& dgh, const Recurrence& r);

// dst[r.row(k)] = src[k] for rows of H values: sorted rows back to the caller's order ...
template <class T>
void unsort_rows(const Recurrence& r, const T* src, T* dst, std::int64_t width) {
  for (std::int64_t k = 0; k < r.B; ++k)
    std::copy_n(src + k * width, width, dst + r.row(k) * width);
}
// ... and dst[k] = src[r.row(k)]: the caller's order into sorted rows.
template <class T>
void sort_rows(const Recurrence& r, const T* src, T* dst, std::int64_t width) {
  for (std::int64_t k = 0; k < r.B; ++k)
    std::copy_n(src + r.row(k) * width, width, dst + k * width);
}

// Calls f(first, last) over the rows [0, rows) of one step's elementwise work, split between
// seqgrad's threads when there is enough of it to pay for waking a worker (about 32K values):
// with two threads the GEMMs run split and a serial gate loop would leave one core idle while
// it runs. Rows are independent, so the result does not depend on the split.
inline constexpr std::int64_t kRowsSplitValues = 32768;
template <class F>
void for_rows(std::int64_t rows, std::int64_t values_per_row, F&& f) {
  if (intra_op_threads() > 1 && rows * values_per_row >= kRowsSplitValues &&
      !seqgrad::detail::inside_parallel_body())  // the pool is busy running the caller's chunks
    parallel_for(rows, f);
  else if (rows > 0)
    f(std::int64_t{0}, rows);
}

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
