// The gate math of one row (one sequence at one step) of the fused recurrent kernels: GRU (reset
// after and before), LSTM and Elman RNN, forward and backward. The equations are in each cell's
// file (functional_gru.cpp, functional_lstm.cpp, functional_rnn.cpp); the kernels there run the
// products of a step and call these for every live row. Internal to nn/.
//
// Each row function is written once, as an always-inlined template, and compiled twice for float:
// in the baseline build (x86-64-v3, 8 lanes) and inside an AVX-512 target region
// (gate_rows_avx512.cpp, 16 lanes). gate_rows<T>() hands a kernel the table of the build to call:
// the AVX-512 one when T is float and cpu_path() is CpuPath::kAvx512 (SEQGRAD_CPU or ScopedCpuPath
// can force another), the baseline one otherwise. The functions call nothing out of line (vecmath
// and recurrence.h's sigmoid/tanh are always inlined too), so no shared inline function is ever
// compiled for AVX-512 and picked by the linker for a baseline caller.
#pragma once

#include <cstdint>

#include "nn/recurrence.h"

namespace seqgrad::nn::detail {

// PyTorch's GRU gates (reset after) for one row, shared by gru_sequence and the attention
// decoder. x [3H] is the input part, g [3H] = h W_hh^T; afterwards a [3H] holds r, z, n and g's n
// part has b_hh added (gh_n, what r multiplies, which the backward reads):
//   r = σ(x_r + g_r + b_r),  z = σ(x_z + g_z + b_z),  n = tanh(x_n + r gh_n),  h' = (1 - z) n + z h
template <class T>
[[gnu::always_inline]] inline void gru_after_row(std::int64_t H, const T* x, T* g, const T* bias,
                                                 const T* h, T* a, T* h_next, T* y) {
#pragma GCC ivdep  // the rows read and written never overlap
  for (std::int64_t j = 0; j < 2 * H; ++j) a[j] = sigmoid<T>(x[j] + g[j] + bias[j]);
#pragma GCC ivdep
  for (std::int64_t j = 0; j < H; ++j) {
    const T gh_n = g[2 * H + j] + bias[2 * H + j];
    g[2 * H + j] = gh_n;
    const T n = tanh<T>(x[2 * H + j] + a[j] * gh_n), z = a[H + j];
    a[2 * H + j] = n;
    h_next[j] = y[j] = (T(1) - z) * n + z * h[j];
  }
}

// Its backward, with dh the gradient reaching h' from the next step and dy from the output:
//   dn_pre = dh (1 - z)(1 - n²),  dz_pre = dh (h - n) z (1 - z),  dr_pre = dn_pre gh_n r (1 - r)
//   dgx = (dr_pre, dz_pre, dn_pre),  dgh = (dr_pre, dz_pre, dn_pre r),  dh_prev = dh z
// (the caller adds dgh W_hh to dh_prev).
template <class T>
[[gnu::always_inline]] inline void gru_after_backward_row(std::int64_t H, const T* dh, const T* dy,
                                                          const T* a, const T* g, const T* h,
                                                          T* dh_prev, T* dgx, T* dgh) {
#pragma GCC ivdep  // the rows read and written never overlap
  for (std::int64_t j = 0; j < H; ++j) {
    const T d = dh[j] + dy[j], r = a[j], z = a[H + j], n = a[2 * H + j];
    const T dn_pre = d * (T(1) - z) * (T(1) - n * n);
    const T dz_pre = d * (h[j] - n) * z * (T(1) - z);
    const T dr_pre = dn_pre * g[2 * H + j] * r * (T(1) - r);
    dh_prev[j] = d * z;
    dgx[j] = dgh[j] = dr_pre;
    dgx[H + j] = dgh[H + j] = dz_pre;
    dgx[2 * H + j] = dn_pre;
    dgh[2 * H + j] = dn_pre * r;
  }
}

// GRU with the reset before the product (Cho et al.), in two stages around the second GEMM.
// Stage 0: r and z from g's r, z part (h W_rz^T), and rh = r h, the second GEMM's operand.
template <class T>
[[gnu::always_inline]] inline void gru_before_rz_row(std::int64_t H, const T* x, const T* g,
                                                     const T* bias, const T* h, T* a, T* rh) {
#pragma GCC ivdep  // the rows read and written never overlap
  for (std::int64_t j = 0; j < 2 * H; ++j) a[j] = sigmoid<T>(x[j] + g[j] + bias[j]);
#pragma GCC ivdep
  for (std::int64_t j = 0; j < H; ++j) rh[j] = a[j] * h[j];
}
// Stage 1: n from g's n part ((r h) W_hn^T), then h'.
template <class T>
[[gnu::always_inline]] inline void gru_before_n_row(std::int64_t H, const T* x, const T* g,
                                                    const T* bias, const T* h, T* a, T* h_next,
                                                    T* y) {
#pragma GCC ivdep  // the rows read and written never overlap
  for (std::int64_t j = 0; j < H; ++j) {
    const T n = tanh<T>(x[2 * H + j] + g[2 * H + j] + bias[2 * H + j]), z = a[H + j];
    a[2 * H + j] = n;
    h_next[j] = y[j] = (T(1) - z) * n + z * h[j];
  }
}
// Backward of stage 1 (the first to run backward): z and n, dh_prev = dh z.
template <class T>
[[gnu::always_inline]] inline void gru_before_zn_backward_row(std::int64_t H, const T* dh,
                                                              const T* dy, const T* a, const T* h,
                                                              T* dh_prev, T* dgx, T* dgh) {
#pragma GCC ivdep  // the rows read and written never overlap
  for (std::int64_t j = 0; j < H; ++j) {
    const T d = dh[j] + dy[j], z = a[H + j], n = a[2 * H + j];
    const T dn_pre = d * (T(1) - z) * (T(1) - n * n);
    dh_prev[j] = d * z;
    dgx[H + j] = dgh[H + j] = d * (h[j] - n) * z * (T(1) - z);
    dgx[2 * H + j] = dgh[2 * H + j] = dn_pre;
  }
}
// Backward of stage 0, once d(r h) = dgh_n W_hn is known: r, and d(r h) r into dh_prev.
template <class T>
[[gnu::always_inline]] inline void gru_before_r_backward_row(std::int64_t H, const T* d_rh,
                                                             const T* a, const T* h, T* dh_prev,
                                                             T* dgx, T* dgh) {
#pragma GCC ivdep  // the rows read and written never overlap
  for (std::int64_t j = 0; j < H; ++j) {
    const T r = a[j];
    dh_prev[j] += d_rh[j] * r;
    dgx[j] = dgh[j] = d_rh[j] * h[j] * r * (T(1) - r);
  }
}

// LSTM: a [4H] holds h W_hh^T on entry and i, f, g, o afterwards.
template <class T>
[[gnu::always_inline]] inline void lstm_row(std::int64_t H, const T* x, const T* bias, const T* c,
                                            T* a, T* c_next, T* h_next, T* y) {
#pragma GCC ivdep  // the rows read and written never overlap
  for (std::int64_t j = 0; j < 2 * H; ++j) a[j] = sigmoid<T>(a[j] + x[j] + bias[j]);
#pragma GCC ivdep
  for (std::int64_t j = 2 * H; j < 3 * H; ++j) a[j] = tanh<T>(a[j] + x[j] + bias[j]);
#pragma GCC ivdep
  for (std::int64_t j = 3 * H; j < 4 * H; ++j) a[j] = sigmoid<T>(a[j] + x[j] + bias[j]);
#pragma GCC ivdep
  for (std::int64_t j = 0; j < H; ++j) {
    const T cn = a[H + j] * c[j] + a[j] * a[2 * H + j];
    c_next[j] = cn;
    h_next[j] = y[j] = a[3 * H + j] * tanh<T>(cn);
  }
}
// Its backward: dg [4H] the gradient of the pre-activations, dc_prev = dc f, dh_prev zeroed (the
// caller adds dg W_hh).
template <class T>
[[gnu::always_inline]] inline void lstm_backward_row(std::int64_t H, const T* dh, const T* dc,
                                                     const T* dy, const T* a, const T* c,
                                                     const T* c_next, T* dh_prev, T* dc_prev,
                                                     T* dg) {
#pragma GCC ivdep  // the rows read and written never overlap
  for (std::int64_t j = 0; j < H; ++j) {
    const T ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
    const T tc = tanh<T>(c_next[j]), dhj = dh[j] + dy[j];
    const T dcj = dc[j] + dhj * og * (T(1) - tc * tc);
    dg[j] = dcj * gg * ig * (T(1) - ig);
    dg[H + j] = dcj * c[j] * fg * (T(1) - fg);
    dg[2 * H + j] = dcj * ig * (T(1) - gg * gg);
    dg[3 * H + j] = dhj * tc * og * (T(1) - og);
    dc_prev[j] = dcj * fg;
    dh_prev[j] = T(0);
  }
}

// Elman RNN: h_next [H] holds h W_hh^T on entry, the activated state afterwards.
template <class T>
[[gnu::always_inline]] inline void rnn_row(std::int64_t H, bool relu, const T* x, const T* bias,
                                           T* h_next, T* y) {
  if (!relu) {
#pragma GCC ivdep  // the rows read and written never overlap
    for (std::int64_t j = 0; j < H; ++j) h_next[j] = y[j] = tanh<T>(h_next[j] + x[j] + bias[j]);
  } else {
#pragma GCC ivdep
    for (std::int64_t j = 0; j < H; ++j) {
      const T pre = h_next[j] + x[j] + bias[j];
      h_next[j] = y[j] = pre < T(0) ? T(0) : pre;  // std::max's result, NaN kept; not a call
    }
  }
}
// Its backward, from the activated state h_next; dh_prev zeroed (the caller adds dg W_hh).
template <class T>
[[gnu::always_inline]] inline void rnn_backward_row(std::int64_t H, bool relu, const T* dh,
                                                    const T* dy, const T* h_next, T* dgx, T* dg,
                                                    T* dh_prev) {
  if (!relu) {
#pragma GCC ivdep  // the rows read and written never overlap
    for (std::int64_t j = 0; j < H; ++j) {
      dgx[j] = dg[j] = (dh[j] + dy[j]) * (T(1) - h_next[j] * h_next[j]);
      dh_prev[j] = T(0);
    }
  } else {
#pragma GCC ivdep
    for (std::int64_t j = 0; j < H; ++j) {
      dgx[j] = dg[j] = (dh[j] + dy[j]) * T(h_next[j] > T(0));
      dh_prev[j] = T(0);
    }
  }
}

// One build of every row function above.
template <class T>
struct GateRows {
  decltype(&gru_after_row<T>) gru_after;
  decltype(&gru_after_backward_row<T>) gru_after_backward;
  decltype(&gru_before_rz_row<T>) gru_before_rz;
  decltype(&gru_before_n_row<T>) gru_before_n;
  decltype(&gru_before_zn_backward_row<T>) gru_before_zn_backward;
  decltype(&gru_before_r_backward_row<T>) gru_before_r_backward;
  decltype(&lstm_row<T>) lstm;
  decltype(&lstm_backward_row<T>) lstm_backward;
  decltype(&rnn_row<T>) rnn;
  decltype(&rnn_backward_row<T>) rnn_backward;
};

// The build to call now (see the top of this file). Cheap: a kernel may ask once per row.
template <class T>
const GateRows<T>& gate_rows();
extern template const GateRows<float>& gate_rows<float>();
extern template const GateRows<double>& gate_rows<double>();

// The AVX-512 build (gate_rows_avx512.cpp); only for a CPU that has it.
const GateRows<float>& gate_rows_avx512();

}  // namespace seqgrad::nn::detail
