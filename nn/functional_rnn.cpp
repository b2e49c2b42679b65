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

// S [T+1, B, H]: the state before step i, rows sorted (row T: the final state); it is also what
// act' reads.
template <class T>
void rnn_forward(const Recurrence& r, RnnActivation act, const Tensor& gx, const Tensor& w,
                 const Tensor& bias, const Tensor& S, const Tensor& Y) {
  const std::int64_t B = r.B, H = r.H;
  const GemmPackingScope packing;
  packing.keep(w.t());  // every step multiplies by the same weight: pack it once
  for (std::int64_t i = 0; i < r.T; ++i) {
    const std::int64_t t = r.time(i), n = r.live_rows(t);
    const Tensor next = S.select(0, i + 1);
    if (n > 0)  // h W_hh^T for the running sequences, activated in place below
      gemm(S.select(0, i).narrow(0, 0, n), w.t(), next.narrow(0, 0, n));
    detail::for_rows(B, H, [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t k = first; k < last; ++k) {
        const std::int64_t b = r.row(k);
        const T* h = S.data<T>() + (i * B + k) * H;
        T* h_next = next.data<T>() + k * H;
        T* y = Y.data<T>() + (t * B + b) * H;
        if (k >= n) {  // past this sequence's end: keep the state, output zeros
          std::copy_n(h, H, h_next);
          std::fill_n(y, H, T(0));
          continue;
        }
        const T* x = gx.data<T>() + (t * B + b) * H;
        const T* bb = bias.data<T>() + (r.bias_per_row ? b * H : 0);
        if (act == RnnActivation::Tanh) {
#pragma GCC ivdep  // the rows read and written never overlap
          for (std::int64_t j = 0; j < H; ++j)
            h_next[j] = y[j] = detail::tanh<T>(h_next[j] + x[j] + bb[j]);
        } else {
#pragma GCC ivdep  // the rows read and written never overlap
          for (std::int64_t j = 0; j < H; ++j)
            h_next[j] = y[j] = std::max(h_next[j] + x[j] + bb[j], T(0));
        }
      }
    });
  }
  detail::unsort_rows(r, S.select(0, r.T).data<T>(), Y.select(0, r.T).data<T>(), H);
}

// Fills dGX [T, B, H] (by time, caller's order) and dG [T, B, H] (by step, sorted rows);
// returns dL/dh0.
template <class T>
Tensor rnn_backward(const Recurrence& r, RnnActivation act, const Tensor& w, const Tensor& S,
                    const Tensor& dY, const Tensor& dGX, const Tensor& dG) {
  const std::int64_t B = r.B, H = r.H;
  const GemmPackingScope packing;
  packing.keep(w);  // every step multiplies by the same weight: pack it once
  Tensor dh = Tensor::empty({B, H}, dY.dtype()), dprev = Tensor::empty({B, H}, dY.dtype());
  detail::sort_rows(r, dY.select(0, r.T).data<T>(), dh.data<T>(), H);
  for (std::int64_t i = r.T - 1; i >= 0; --i) {
    const std::int64_t t = r.time(i), n = r.live_rows(t);
    detail::for_rows(B, H, [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t k = first; k < last; ++k) {
        const std::int64_t b = r.row(k);
        const T* d = dh.data<T>() + k * H;
        T* dp = dprev.data<T>() + k * H;
        T* dgx = dGX.data<T>() + (t * B + b) * H;
        T* dg = dG.data<T>() + (i * B + k) * H;
        if (k >= n) {  // the state passed through unchanged; the zero output has no gradient
          std::copy_n(d, H, dp);
          std::fill_n(dgx, H, T(0));
          std::fill_n(dg, H, T(0));
          continue;
        }
        const T* dy = dY.data<T>() + (t * B + b) * H;
        const T* hn = S.data<T>() + ((i + 1) * B + k) * H;
#pragma GCC ivdep  // the rows read and written never overlap
        for (std::int64_t j = 0; j < H; ++j) {
          const T slope = act == RnnActivation::Tanh ? T(1) - hn[j] * hn[j] : T(hn[j] > T(0));
          dgx[j] = dg[j] = (d[j] + dy[j]) * slope;
          dp[j] = T(0);
        }
      }
    });
    if (n > 0) gemm(dG.select(0, i).narrow(0, 0, n), w, dprev.narrow(0, 0, n), 1.0, 1.0);
    std::swap(dh, dprev);
  }
  Tensor dh0 = Tensor::empty({B, H}, dY.dtype());
  detail::unsort_rows(r, dh.data<T>(), dh0.data<T>(), H);
  return dh0;
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
  const Tensor h0v = h0.value().contiguous();
  dispatch_floating(dt, "rnn_sequence", [&]<class T>() {
    detail::sort_rows(r, h0v.data<T>(), S.data<T>(), r.H);
    rnn_forward<T>(r, activation, x, w, bias, S, Y);
  });

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
