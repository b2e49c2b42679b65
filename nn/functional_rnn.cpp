// Elman RNN layer over a whole sequence: one graph node, hand-written backward (see functional.h).
// Per step i (time t) and live sequence b:  h' = act(gx + h W_hh^T + b_hh)
// Backward:  dpre = dh act'(h')  (tanh: 1 - h'², relu: h' > 0);  dh_prev = dpre W_hh
#include <algorithm>
#include <utility>

#include "nn/functional.h"
#include "nn/recurrence.h"

namespace seqgrad::nn::functional {

namespace {

using detail::Recurrence;

// S [T+1, B, H]: the state before step i (row T: the final state); it is also what act' reads.
template <class T>
void rnn_forward(const Recurrence& r, RnnActivation act, const Tensor& gx, const Tensor& w,
                 const Tensor& bias, const Tensor& S, const Tensor& Y) {
  const std::int64_t B = r.B, H = r.H;
  for (std::int64_t i = 0; i < r.T; ++i) {
    const std::int64_t t = r.time(i);
    const Tensor next = S.select(0, i + 1);
    gemm(S.select(0, i), w.t(), next);  // h W_hh^T, activated in place below
    for (std::int64_t b = 0; b < B; ++b) {
      const T* x = gx.data<T>() + (t * B + b) * H;
      const T* bb = bias.data<T>() + (r.bias_per_row ? b * H : 0);
      const T* h = S.data<T>() + (i * B + b) * H;
      T* h_next = next.data<T>() + b * H;
      T* y = Y.data<T>() + (t * B + b) * H;
      if (!r.live(t, b)) {
        std::copy_n(h, H, h_next);
        std::fill_n(y, H, T(0));
      } else if (act == RnnActivation::Tanh) {
#pragma GCC ivdep  // the rows read and written never overlap
        for (std::int64_t j = 0; j < H; ++j)
          h_next[j] = y[j] = detail::tanh<T>(h_next[j] + x[j] + bb[j]);
      } else {
#pragma GCC ivdep  // the rows read and written never overlap
        for (std::int64_t j = 0; j < H; ++j)
          h_next[j] = y[j] = std::max(h_next[j] + x[j] + bb[j], T(0));
      }
    }
  }
  Y.select(0, r.T).copy_(S.select(0, r.T));
}

// Fills dGX [T, B, H] (by time) and dG [T, B, H] (by step); returns dL/dh0.
template <class T>
Tensor rnn_backward(const Recurrence& r, RnnActivation act, const Tensor& w, const Tensor& S,
                    const Tensor& dY, const Tensor& dGX, const Tensor& dG) {
  const std::int64_t B = r.B, H = r.H;
  Tensor dh = dY.select(0, r.T).clone(), dprev = Tensor::empty({B, H}, dY.dtype());
  for (std::int64_t i = r.T - 1; i >= 0; --i) {
    const std::int64_t t = r.time(i);
    for (std::int64_t b = 0; b < B; ++b) {
      const T* d = dh.data<T>() + b * H;
      T* dp = dprev.data<T>() + b * H;
      T* dgx = dGX.data<T>() + (t * B + b) * H;
      T* dg = dG.data<T>() + (i * B + b) * H;
      if (!r.live(t, b)) {
        std::copy_n(d, H, dp);
        std::fill_n(dgx, H, T(0));
        std::fill_n(dg, H, T(0));
        continue;
      }
      const T* dy = dY.data<T>() + (t * B + b) * H;
      const T* hn = S.data<T>() + ((i + 1) * B + b) * H;
#pragma GCC ivdep  // the rows read and written never overlap
      for (std::int64_t j = 0; j < H; ++j) {
        const T slope = act == RnnActivation::Tanh ? T(1) - hn[j] * hn[j] : T(hn[j] > T(0));
        dgx[j] = dg[j] = (d[j] + dy[j]) * slope;
        dp[j] = T(0);
      }
    }
    gemm(dG.select(0, i), w, dprev, 1.0, 1.0);
    std::swap(dh, dprev);
  }
  return dh;
}

}  // namespace

Variable rnn_sequence(const Variable& gx, const Variable& h0, const Variable& w_hh,
                      const Variable& b_hh, const std::vector<std::int64_t>& lengths, bool reverse,
                      RnnActivation activation) {
  const Recurrence r =
      detail::check_recurrence("rnn_sequence", 1, gx, h0, w_hh, b_hh, lengths, reverse);
  const DType dt = gx.dtype();
  const Tensor x = gx.value().contiguous(), w = w_hh.value().contiguous(),
               bias = b_hh.value().contiguous();
  Tensor S = Tensor::empty({r.T + 1, r.B, r.H}, dt), Y = Tensor::empty({r.T + 1, r.B, r.H}, dt);
  S.select(0, 0).copy_(h0.value());
  dispatch_floating(dt, "rnn_sequence",
                    [&]<class T>() { rnn_forward<T>(r, activation, x, w, bias, S, Y); });

  auto backward = [r, activation, w, S](const Tensor& gy, GradSlots& dx) {
    const Tensor dY = gy.contiguous();
    Tensor dGX = Tensor::empty({r.T, r.B, r.H}, gy.dtype());
    Tensor dG = Tensor::empty(dGX.shape(), gy.dtype());
    Tensor dh0;
    dispatch_floating(gy.dtype(), "rnn_sequence",
                      [&]<class T>() { dh0 = rnn_backward<T>(r, activation, w, S, dY, dGX, dG); });
    dx[0] += dGX;
    dx[1] += dh0;
    if (dx.needed(2))
      dx[2] += matmul(detail::step_rows(dG).t(), detail::step_rows(S.narrow(0, 0, r.T)));
    if (dx.needed(3)) dx[3] += detail::bias_grad(dG, r);
  };
  return record("rnn_sequence", Y, {gx, h0, w_hh, b_hh}, backward, {w});
}

}  // namespace seqgrad::nn::functional
