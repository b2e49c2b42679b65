// The one loop of the fused recurrent kernels (functional_rnn.cpp, functional_lstm.cpp,
// functional_gru.cpp, functional_attention_decoder.cpp) and what they share: argument checks, the
// order of steps, which (step, sequence) pairs are live, padding, the thread split of a step's
// row work, and the final weight-gradient GEMM. A kernel supplies only the products of a step and
// the gate math of one row (see recurrence_forward below). Internal to nn/.
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
#include <memory>
#include <utility>
#include <vector>

#include "autograd/node.h"
#include "tensor/linalg.h"
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

// Calls f(first, last) over the rows [first, last) of one step's elementwise work, split between
// seqgrad's threads when there is enough of it to pay for waking a worker (about 32K values):
// with two threads the GEMMs run split and a serial gate loop would leave one core idle while
// it runs. Rows are independent, so the result does not depend on the split.
inline constexpr std::int64_t kRowsSplitValues = 32768;
template <class F>
void for_rows(std::int64_t first, std::int64_t last, std::int64_t values_per_row, F&& f) {
  const std::int64_t rows = last - first;
  if (intra_op_threads() > 1 && rows * values_per_row >= kRowsSplitValues &&
      !seqgrad::detail::inside_parallel_body())  // the pool is busy running the caller's chunks
    parallel_for(rows, [&](std::int64_t a, std::int64_t b) { f(first + a, first + b); });
  else if (rows > 0)
    f(first, last);
}

// How a pass over the sequence is split between threads: by sequences. Each thread runs every
// step of its own rows (a contiguous range of the sorted batch) with its own GEMMs on the shared
// packed weights, so the threads meet once per pass instead of two or three times per step (at
// hidden 256 a step's product takes ~40 us per thread against a wake-up of several us, and the
// gate math between products was a second meeting). Rows are cut so that each range holds about
// the same number of live (step, sequence) pairs: the sorted batch puts the long sequences first.
// Each row's arithmetic is the same whichever range it is in (the kernels compute each row of a
// product alone), so the result does not depend on the thread count. Below kMinSplitRows rows per
// thread the split is not worth it and each step is split instead (for_rows, the GEMMs).
inline constexpr std::int64_t kMinSplitRows = 8;
inline std::vector<std::int64_t> sequence_split(const Recurrence& r) {
  const std::int64_t threads = seqgrad::detail::inside_parallel_body() ? 1 : intra_op_threads();
  const std::int64_t parts = std::min<std::int64_t>(threads, r.B / kMinSplitRows);
  std::vector<std::int64_t> bounds{0};
  if (parts <= 1 || r.T < 2) {
    bounds.push_back(r.B);
    return bounds;
  }
  std::int64_t total = 0;
  for (std::int64_t k = 0; k < r.B; ++k) total += std::max<std::int64_t>(r.lengths[r.row(k)], 1);
  std::int64_t seen = 0;
  for (std::int64_t k = 0; k < r.B && static_cast<std::int64_t>(bounds.size()) < parts; ++k) {
    seen += std::max<std::int64_t>(r.lengths[r.row(k)], 1);
    if (seen * parts >= total * static_cast<std::int64_t>(bounds.size())) bounds.push_back(k + 1);
  }
  bounds.push_back(r.B);
  return bounds;
}

// Runs pass(first, last) over the row ranges of sequence_split, one per thread. Each thread opens
// its own GemmPackingScope with `weights` (the right operands of the step products) kept: a scope
// is per thread, and the products of every range must take the same path.
template <class F>
void for_sequences(const Recurrence& r, const std::vector<Tensor>& weights, F&& pass) {
  const std::vector<std::int64_t> bounds = sequence_split(r);
  const std::int64_t parts = static_cast<std::int64_t>(bounds.size()) - 1;
  if (parts == 1) return pass(std::int64_t{0}, r.B);
  parallel_for_chunks(parts, [&](int, std::int64_t c0, std::int64_t c1) {
    const GemmPackingScope packing;
    for (const Tensor& w : weights) packing.keep(w);
    for (std::int64_t c = c0; c < c1; ++c)
      pass(bounds[static_cast<std::size_t>(c)], bounds[static_cast<std::size_t>(c) + 1]);
  });
}

// A per-step buffer [T, B, width] and how its rows are addressed: by time and the caller's
// sequence order (outputs, dL/dgx), or by processing step and sorted row (what a kernel saves).
struct StepRows {
  Tensor buffer;
  bool by_time = false;
  template <class T>
  T* at(const Recurrence& r, std::int64_t i, std::int64_t k) const {
    const std::int64_t row = by_time ? r.time(i) * r.B + r.row(k) : i * r.B + k;
    return buffer.data<T>() + row * buffer.size(2);
  }
};

// x [B, W] in the caller's order, as sorted rows (row k = x[r.row(k)]) written into `out`, or
// into a new tensor; and back.
template <class T>
void sort_into(const Recurrence& r, const Tensor& x, const Tensor& out) {
  const Tensor c = x.contiguous();
  sort_rows(r, c.data<T>(), out.data<T>(), x.size(1));
}
template <class T>
Tensor sorted_copy(const Recurrence& r, const Tensor& x) {
  Tensor out = Tensor::empty({r.B, x.size(1)}, x.dtype());
  sort_into<T>(r, x, out);
  return out;
}
template <class T>
Tensor unsorted_copy(const Recurrence& r, const Tensor& x) {
  Tensor out = Tensor::empty({r.B, x.size(x.dim() - 1)}, x.dtype());
  unsort_rows(r, x.data<T>(), out.data<T>(), x.size(x.dim() - 1));
  return out;
}

// Row k of a [B, H] buffer, or of step i of a [T+1, B, H] state buffer.
template <class T>
T* row_of(const Tensor& x, std::int64_t k) {
  return x.data<T>() + k * x.size(x.dim() - 1);
}
template <class T>
T* row_of(const Tensor& x, std::int64_t i, std::int64_t k) {
  return x.data<T>() + (i * x.size(1) + k) * x.size(2);
}

// The forward loop. `states` are the state parts (h; the LSTM's h and c), each [T+1, B, H] with
// row i the state before step i (rows sorted; row 0 filled by the caller). Each step i runs the
// kernel's stages in order; a stage is the step's products over its live rows, then the gate math
// of each row:
//   kernel.stages()                          how many (Cho's reset-before GRU: 2; the rest: 1)
//   kernel.products(i, first, last, stage)   GEMMs on the live rows [first, last) of step i
//   kernel.template row<T>(i, k, stage)      the gate math of live row k: reads state row i,
//                                            writes state row i + 1, the outputs and what it saves
//   Kernel::kSplitsBySequence                whether products and rows touch only their own rows
//                                            (then the pass is split by sequences, for_sequences)
// A row past its sequence's end (padding) is the loop's business, in stage 0: its state is
// carried over and its row of every buffer in `zero_when_dead` is zero (outputs are zero there).
// `weights`: the right operands of the step products, packed once per pass (and thread).
template <class T, class Kernel>
void recurrence_forward(const Recurrence& r, Kernel& kernel, const std::vector<Tensor>& states,
                        const std::vector<StepRows>& zero_when_dead,
                        const std::vector<Tensor>& weights) {
  const GemmPackingScope packing;  // every step multiplies by the same weights: pack them once
  for (const Tensor& w : weights) packing.keep(w);
  const auto pass = [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t i = 0; i < r.T; ++i) {
      const std::int64_t live = std::clamp(r.live_rows(r.time(i)), first, last);
      for (int stage = 0; stage < kernel.stages(); ++stage) {
        if (live > first) kernel.products(i, first, live, stage);
        for_rows(first, stage == 0 ? last : live, r.G * r.H, [&](std::int64_t a, std::int64_t b) {
          for (std::int64_t k = a; k < b; ++k) {
            if (k < live) {
              kernel.template row<T>(i, k, stage);
              continue;
            }
            for (const Tensor& s : states)
              std::copy_n(row_of<T>(s, i, k), r.H, row_of<T>(s, i + 1, k));
            for (const StepRows& z : zero_when_dead)
              std::fill_n(z.at<T>(r, i, k), z.buffer.size(2), T(0));
          }
        });
      }
    }
  };
  if constexpr (Kernel::kSplitsBySequence)
    for_sequences(r, weights, pass);
  else
    pass(0, r.B);
}

// The backward loop, the forward's stages in reverse: for each step from the last, each stage
// from the last, the gate backward of each row, then the stage's products:
//   kernel.template backward_row<T>(i, k, stage, d, d_prev)   live row k: d holds the gradients
//                          reaching the state after step i (rows [B, H] per part, sorted), and
//                          the row writes d_prev's row k, the gradient reaching the state before
//   kernel.backward_products(i, first, last, stage, d_prev)   GEMMs on the live rows
//                          [first, last) that add into d_prev
// A padding row passes its state gradient through and is zero in every `zero_when_dead` buffer.
// `d` starts as the gradients of the final state; returned: those of the initial state (sorted).
// Split by sequences as the forward is; `weights` as there.
template <class T, class Kernel>
std::vector<Tensor> recurrence_backward(const Recurrence& r, Kernel& kernel, std::vector<Tensor> d,
                                        const std::vector<StepRows>& zero_when_dead,
                                        const std::vector<Tensor>& weights) {
  const GemmPackingScope packing;
  for (const Tensor& w : weights) packing.keep(w);
  std::vector<Tensor> d_prev;
  for (const Tensor& x : d) d_prev.push_back(Tensor::empty(x.shape(), x.dtype()));
  const auto pass = [&](std::int64_t first, std::int64_t last) {
    // This range's view of the two buffers, swapped after every step: the ranges swap in step.
    std::vector<Tensor> dn = d, dp = d_prev;
    for (std::int64_t i = r.T - 1; i >= 0; --i) {
      const std::int64_t live = std::clamp(r.live_rows(r.time(i)), first, last);
      for (int stage = kernel.stages() - 1; stage >= 0; --stage) {
        const bool first_stage = stage == kernel.stages() - 1;  // the one that sees padding rows
        for_rows(first, first_stage ? last : live, r.G * r.H, [&](std::int64_t a, std::int64_t b) {
          for (std::int64_t k = a; k < b; ++k) {
            if (k < live) {
              kernel.template backward_row<T>(i, k, stage, dn, dp);
              continue;
            }
            for (std::size_t p = 0; p < dn.size(); ++p)
              std::copy_n(row_of<T>(dn[p], k), r.H, row_of<T>(dp[p], k));
            for (const StepRows& z : zero_when_dead)
              std::fill_n(z.at<T>(r, i, k), z.buffer.size(2), T(0));
          }
        });
        if (live > first) kernel.backward_products(i, first, live, stage, dp);
      }
      std::swap(dn, dp);
    }
  };
  if constexpr (Kernel::kSplitsBySequence)
    for_sequences(r, weights, pass);
  else
    pass(0, r.B);
  return r.T % 2 == 0 ? d : d_prev;  // after T swaps
}

// What every layer kernel (rnn, lstm, gru) holds. A kernel is kept by its node's backward closure:
// it keeps what the backward pass reads, and sets the forward's operands and the backward's
// buffers only while each runs.
struct LayerKernel {
  Recurrence r;
  Tensor w;            // W_hh [G*H, H], contiguous
  Tensor S;            // [T+1, B, H] h before step i, rows sorted
  Tensor gx, bias, Y;  // forward: [T, B, G*H] by time; [G*H] or [B, G*H]; outputs [T, B, H]
  Tensor dY, dGX, dG;  // backward: dL/dY; dL/dgx [T, B, G*H] by time; dL/d(h W_hh^T + b_hh)
                       // [T, B, G*H] by step, rows sorted

  // Checks the operands (check_recurrence), sets up a forward pass and returns the block that
  // holds the node's outputs, [T + parts, B, H]: the step outputs (Y), then each final state part
  // (one allocation instead of 1 + parts).
  Tensor start_forward(const char* op, std::int64_t gates, const Variable& gx_, const Variable& h0,
                       const Variable& w_hh, const Variable& b_hh,
                       const std::vector<std::int64_t>& lengths, bool reverse, std::int64_t parts) {
    r = check_recurrence(op, gates, gx_, h0, w_hh, b_hh, lengths, reverse);
    w = w_hh.value().contiguous();
    S = Tensor::empty({r.T + 1, r.B, r.H}, gx_.dtype());
    gx = gx_.value().contiguous();
    bias = b_hh.value().contiguous();
    const Tensor block = Tensor::empty({r.T + parts, r.B, r.H}, gx_.dtype());
    Y = block.narrow(0, 0, r.T);
    return block;
  }
  // The block's outputs (the step outputs, then the final state parts) once the forward is done.
  std::vector<Tensor> finish_forward(const Tensor& block) {
    gx = bias = Y = Tensor();
    std::vector<Tensor> out{block.narrow(0, 0, r.T)};
    for (std::int64_t p = r.T; p < block.size(0); ++p) out.push_back(block.select(0, p));
    return out;
  }
  void start_backward(const Tensor& gy) {
    dY = gy.contiguous();
    dGX = Tensor::empty({r.T, r.B, r.G * r.H}, gy.dtype());
    dG = Tensor::empty(dGX.shape(), gy.dtype());
  }
  void finish_backward() { dY = dG = Tensor(); }
};

// A layer kernel made ready for its forward pass: the kernel (which the node's backward closure
// will keep) and the block that holds the node's outputs (LayerKernel::start_forward).
template <class Kernel>
std::pair<std::shared_ptr<Kernel>, Tensor> start_layer(Kernel kernel, const char* op,
                                                       std::int64_t gates, const Variable& gx,
                                                       const Variable& h0, const Variable& w_hh,
                                                       const Variable& b_hh,
                                                       const std::vector<std::int64_t>& lengths,
                                                       bool reverse, std::int64_t parts) {
  auto k = std::make_shared<Kernel>(std::move(kernel));
  Tensor block = k->start_forward(op, gates, gx, h0, w_hh, b_hh, lengths, reverse, parts);
  return {std::move(k), std::move(block)};
}

// Float32 uses seqgrad's vectorisable approximations, float64 (gradient checks) the C library.
template <class T>
[[gnu::always_inline]] inline T sigmoid(T x) {
  if constexpr (sizeof(T) == 4)
    return vecmath::sigmoid(x);
  else
    return T(1) / (T(1) + std::exp(-x));
}
template <class T>
[[gnu::always_inline]] inline T exp(T x) {
  if constexpr (sizeof(T) == 4)
    return vecmath::exp(x);
  else
    return std::exp(x);
}
template <class T>
[[gnu::always_inline]] inline T tanh(T x) {
  if constexpr (sizeof(T) == 4)
    return vecmath::tanh(x);
  else
    return std::tanh(x);
}

}  // namespace seqgrad::nn::detail
