// LSTM layer over a whole sequence: one graph node, hand-written backward (see functional.h).
// Per step i (time t) and live sequence b, with pre = gx + h W_hh^T + b_hh split into i, f, g, o:
//   i = σ(pre_i), f = σ(pre_f), g = tanh(pre_g), o = σ(pre_o)
//   c' = f c + i g,  h' = o tanh(c')
// Backward, dh and dc being the gradients reaching h' and c':
//   dc += dh o (1 - tanh²(c'));  do = dh tanh(c')
//   di = dc g,  df = dc c,  dg = dc i,  dc_prev = dc f
//   dpre = (di i(1-i), df f(1-f), dg (1-g²), do o(1-o));  dh_prev = dpre W_hh
#include <algorithm>
#include <utility>

#include "nn/functional.h"
#include "nn/recurrence.h"

namespace seqgrad::nn::functional {

namespace {

using detail::Recurrence;

struct LstmSaved {  // by processing step, rows sorted (see recurrence.h)
  Tensor S;         // [T+1, B, H] h before step i (row T: the final h)
  Tensor C;         // [T+1, B, H] c before step i (row T: the final c)
  Tensor A;         // [T, B, 4H]  i, f, g, o
};

template <class T>
void lstm_forward(const Recurrence& r, const Tensor& gx, const Tensor& w, const Tensor& bias,
                  const LstmSaved& sv, const Tensor& Y) {
  const std::int64_t B = r.B, H = r.H, G4 = 4 * H;
  const GemmPackingScope packing;
  packing.keep(w.t());  // every step multiplies by the same weight: pack it once
  for (std::int64_t i = 0; i < r.T; ++i) {
    const std::int64_t t = r.time(i), n = r.live_rows(t);
    if (n > 0)  // h W_hh^T for the running sequences, activated in place below
      gemm(sv.S.select(0, i).narrow(0, 0, n), w.t(), sv.A.select(0, i).narrow(0, 0, n));
    detail::for_rows(B, G4, [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t k = first; k < last; ++k) {
        const std::int64_t b = r.row(k);
        T* a = sv.A.data<T>() + (i * B + k) * G4;
        const T* h = sv.S.data<T>() + (i * B + k) * H;
        const T* c = sv.C.data<T>() + (i * B + k) * H;
        T* h_next = sv.S.data<T>() + ((i + 1) * B + k) * H;
        T* c_next = sv.C.data<T>() + ((i + 1) * B + k) * H;
        T* y = Y.data<T>() + (t * B + b) * H;
        if (k >= n) {  // past this sequence's end: keep the state, output zeros
          std::copy_n(h, H, h_next);
          std::copy_n(c, H, c_next);
          std::fill_n(y, H, T(0));
          std::fill_n(a, G4, T(0));
          continue;
        }
        const T* x = gx.data<T>() + (t * B + b) * G4;
        const T* bb = bias.data<T>() + (r.bias_per_row ? b * G4 : 0);
#pragma GCC ivdep  // the rows read and written never overlap
        for (std::int64_t j = 0; j < 2 * H; ++j) a[j] = detail::sigmoid<T>(a[j] + x[j] + bb[j]);
#pragma GCC ivdep
        for (std::int64_t j = 2 * H; j < 3 * H; ++j) a[j] = detail::tanh<T>(a[j] + x[j] + bb[j]);
#pragma GCC ivdep
        for (std::int64_t j = 3 * H; j < G4; ++j) a[j] = detail::sigmoid<T>(a[j] + x[j] + bb[j]);
#pragma GCC ivdep
        for (std::int64_t j = 0; j < H; ++j) {
          const T cn = a[H + j] * c[j] + a[j] * a[2 * H + j];
          c_next[j] = cn;
          h_next[j] = y[j] = a[3 * H + j] * detail::tanh<T>(cn);
        }
      }
    });
  }
  detail::unsort_rows(r, sv.S.select(0, r.T).data<T>(), Y.select(0, r.T).data<T>(), H);
  detail::unsort_rows(r, sv.C.select(0, r.T).data<T>(), Y.select(0, r.T + 1).data<T>(), H);
}

// Fills dGX [T, B, 4H] (by time, caller's order) and dG [T, B, 4H] (by step, sorted rows);
// returns dL/dh0 and dL/dc0.
template <class T>
std::pair<Tensor, Tensor> lstm_backward(const Recurrence& r, const Tensor& w, const LstmSaved& sv,
                                        const Tensor& dY, const Tensor& dGX, const Tensor& dG) {
  const std::int64_t B = r.B, H = r.H, G4 = 4 * H;
  const GemmPackingScope packing;
  packing.keep(w);  // every step multiplies by the same weight: pack it once
  Tensor dh = Tensor::empty({B, H}, dY.dtype()), dc = Tensor::empty({B, H}, dY.dtype());
  Tensor dh_prev = Tensor::empty({B, H}, dY.dtype()), dc_prev = Tensor::empty({B, H}, dY.dtype());
  detail::sort_rows(r, dY.select(0, r.T).data<T>(), dh.data<T>(), H);
  detail::sort_rows(r, dY.select(0, r.T + 1).data<T>(), dc.data<T>(), H);
  for (std::int64_t i = r.T - 1; i >= 0; --i) {
    const std::int64_t t = r.time(i), n = r.live_rows(t);
    detail::for_rows(B, G4, [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t k = first; k < last; ++k) {
        const std::int64_t b = r.row(k);
        const T* dhb = dh.data<T>() + k * H;
        const T* dcb = dc.data<T>() + k * H;
        T* dhp = dh_prev.data<T>() + k * H;
        T* dcp = dc_prev.data<T>() + k * H;
        T* dgx = dGX.data<T>() + (t * B + b) * G4;
        T* dg = dG.data<T>() + (i * B + k) * G4;
        if (k >= n) {  // the state passed through unchanged; the zero output has no gradient
          std::copy_n(dhb, H, dhp);
          std::copy_n(dcb, H, dcp);
          std::fill_n(dgx, G4, T(0));
          std::fill_n(dg, G4, T(0));
          continue;
        }
        const T* dy = dY.data<T>() + (t * B + b) * H;
        const T* a = sv.A.data<T>() + (i * B + k) * G4;
        const T* c = sv.C.data<T>() + (i * B + k) * H;
        const T* c_next = sv.C.data<T>() + ((i + 1) * B + k) * H;
#pragma GCC ivdep  // the rows read and written never overlap
        for (std::int64_t j = 0; j < H; ++j) {
          const T ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
          const T tc = detail::tanh<T>(c_next[j]), dhj = dhb[j] + dy[j];
          const T dcj = dcb[j] + dhj * og * (T(1) - tc * tc);
          dg[j] = dcj * gg * ig * (T(1) - ig);
          dg[H + j] = dcj * c[j] * fg * (T(1) - fg);
          dg[2 * H + j] = dcj * ig * (T(1) - gg * gg);
          dg[3 * H + j] = dhj * tc * og * (T(1) - og);
          dcp[j] = dcj * fg;
          dhp[j] = T(0);
        }
        std::copy_n(dg, G4, dgx);
      }
    });
    if (n > 0) gemm(dG.select(0, i).narrow(0, 0, n), w, dh_prev.narrow(0, 0, n), 1.0, 1.0);
    std::swap(dh, dh_prev);
    std::swap(dc, dc_prev);
  }
  Tensor dh0 = Tensor::empty({B, H}, dY.dtype()), dc0 = Tensor::empty({B, H}, dY.dtype());
  detail::unsort_rows(r, dh.data<T>(), dh0.data<T>(), H);
  detail::unsort_rows(r, dc.data<T>(), dc0.data<T>(), H);
  return {dh0, dc0};
}

}  // namespace

Variable lstm_sequence(const Variable& gx, const Variable& h0, const Variable& c0,
                       const Variable& w_hh, const Variable& b_hh,
                       const std::vector<std::int64_t>& lengths, bool reverse) {
  const Recurrence r =
      detail::check_recurrence("lstm_sequence", 4, gx, h0, w_hh, b_hh, lengths, reverse);
  check(c0.defined() && c0.shape() == h0.shape() && c0.dtype() == h0.dtype(),
        "lstm_sequence: c0 must have h0's shape {} and dtype, got {}", h0.shape(),
        c0.defined() ? c0.shape() : Dims{});
  const DType dt = gx.dtype();
  const Tensor x = gx.value().contiguous(), w = w_hh.value().contiguous(),
               bias = b_hh.value().contiguous();
  LstmSaved sv{Tensor::empty({r.T + 1, r.B, r.H}, dt), Tensor::empty({r.T + 1, r.B, r.H}, dt),
               Tensor::empty({r.T, r.B, 4 * r.H}, dt)};
  const Tensor h0v = h0.value().contiguous(), c0v = c0.value().contiguous();
  Tensor Y = Tensor::empty({r.T + 2, r.B, r.H}, dt);
  dispatch_floating(dt, "lstm_sequence", [&]<class T>() {
    detail::sort_rows(r, h0v.data<T>(), sv.S.data<T>(), r.H);
    detail::sort_rows(r, c0v.data<T>(), sv.C.data<T>(), r.H);
    lstm_forward<T>(r, x, w, bias, sv, Y);
  });

  auto backward = [r, w, sv](const Tensor& gy, GradSlots& dx) {
    const Tensor dY = gy.contiguous();
    Tensor dGX = Tensor::empty({r.T, r.B, 4 * r.H}, gy.dtype());
    Tensor dG = Tensor::empty(dGX.shape(), gy.dtype());
    std::pair<Tensor, Tensor> d0;
    dispatch_floating(gy.dtype(), "lstm_sequence",
                      [&]<class T>() { d0 = lstm_backward<T>(r, w, sv, dY, dGX, dG); });
    dx[0] += dGX;
    dx[1] += d0.first;
    dx[2] += d0.second;
    if (dx.needed(3))
      dx[3] += matmul(detail::step_rows(dG).t(), detail::step_rows(sv.S.narrow(0, 0, r.T)));
    if (dx.needed(4)) dx[4] += detail::bias_grad(dG, r);
  };
  return record("lstm_sequence", Y, {gx, h0, c0, w_hh, b_hh}, backward, {w});
}

}  // namespace seqgrad::nn::functional
