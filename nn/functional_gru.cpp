// GRU layer over a whole sequence: one graph node, hand-written backward (see functional.h).
// Per step i (time t) and live sequence b, with gh = h W_hh^T + b_hh:
//   r = σ(gx_r + gh_r),  z = σ(gx_z + gh_z),  h' = (1 - z) n + z h, and
//   After:  n = tanh(gx_n + r gh_n)                    one GEMM per step (all three gates)
//   Before: n = tanh(gx_n + (r h) W_hn^T + b_hn)       a second GEMM once r is known
// Backward, dh being the gradient reaching h' (from the next step and from the output):
//   dn_pre = dh (1 - z)(1 - n²),  dz_pre = dh (h - n) z (1 - z),  dh_prev = dh z + ...
//   After:  dgh_n = dn_pre r,  dr = dn_pre gh_n
//   Before: dgh_n = dn_pre,    d(rh) = dgh_n W_hn,  dr = d(rh) h,  dh_prev += d(rh) r
//   dr_pre = dr r (1 - r);  dgx = (dr_pre, dz_pre, dn_pre);  dgh_rz = (dr_pre, dz_pre)
//   dh_prev += dgh W_hh (After: all rows; Before: the r, z rows)
#include <algorithm>
#include <utility>

#include "nn/functional.h"
#include "nn/recurrence.h"

namespace seqgrad::nn::functional {

namespace {

using detail::Recurrence;

// What the forward pass keeps for the backward pass (by processing step, rows sorted: see
// recurrence.h).
struct GruSaved {
  Tensor S;   // [T+1, B, H] state before step i (row T: the final state)
  Tensor A;   // [T, B, 3H]  r, z, n
  Tensor GH;  // [T, B, 3H]  h W_hh^T + b_hh (After: row n is what r multiplies)
  Tensor RH;  // [T, B, H]   r h (Before only: the operand of the second GEMM)
};

template <class T>
void gru_forward(const Recurrence& r, GruReset reset, const Tensor& gx, const Tensor& w,
                 const Tensor& bias, const GruSaved& sv, const Tensor& Y) {
  const std::int64_t B = r.B, H = r.H, G3 = 3 * H;
  const GemmPackingScope packing;  // every step multiplies by the same weights: pack them once
  const Tensor w_rz = w.narrow(0, 0, 2 * H), w_n = w.narrow(0, 2 * H, H);
  if (reset == GruReset::After) {
    packing.keep(w.t());
  } else {
    packing.keep(w_rz.t());
    packing.keep(w_n.t());
  }
  for (std::int64_t i = 0; i < r.T; ++i) {
    const std::int64_t t = r.time(i), n = r.live_rows(t);
    const Tensor gh = sv.GH.select(0, i).narrow(0, 0, n), s = sv.S.select(0, i).narrow(0, 0, n);
    if (n > 0) {
      if (reset == GruReset::After)
        gemm(s, w.t(), gh);
      else
        gemm(s, w_rz.t(), gh.narrow(1, 0, 2 * H));
    }
    detail::for_rows(B, G3, [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t k = first; k < last; ++k) {
        const std::int64_t b = r.row(k);
        T* a = sv.A.data<T>() + (i * B + k) * G3;
        const T* h = sv.S.data<T>() + (i * B + k) * H;
        T* h_next = sv.S.data<T>() + ((i + 1) * B + k) * H;
        T* y = Y.data<T>() + (t * B + b) * H;
        T* rh = reset == GruReset::Before ? sv.RH.data<T>() + (i * B + k) * H : nullptr;
        if (k >= n) {  // past this sequence's end: keep the state, output zeros
          std::copy_n(h, H, h_next);
          std::fill_n(y, H, T(0));
          std::fill_n(a, G3, T(0));
          if (rh) std::fill_n(rh, H, T(0));
          continue;
        }
        const T* x = gx.data<T>() + (t * B + b) * G3;
        T* g = sv.GH.data<T>() + (i * B + k) * G3;
        const T* bb = bias.data<T>() + (r.bias_per_row ? b * G3 : 0);
#pragma GCC ivdep  // the rows read and written never overlap
        for (std::int64_t j = 0; j < 2 * H; ++j) a[j] = detail::sigmoid<T>(x[j] + g[j] + bb[j]);
        if (reset == GruReset::Before) {
#pragma GCC ivdep
          for (std::int64_t j = 0; j < H; ++j) rh[j] = a[j] * h[j];
          continue;  // n needs the second GEMM
        }
#pragma GCC ivdep
        for (std::int64_t j = 0; j < H; ++j) {
          const T gh_n = g[2 * H + j] + bb[2 * H + j];
          g[2 * H + j] = gh_n;
          const T nj = detail::tanh<T>(x[2 * H + j] + a[j] * gh_n), z = a[H + j];
          a[2 * H + j] = nj;
          h_next[j] = y[j] = (T(1) - z) * nj + z * h[j];
        }
      }
    });
    if (reset == GruReset::After || n == 0) continue;
    gemm(sv.RH.select(0, i).narrow(0, 0, n), w_n.t(), gh.narrow(1, 2 * H, H));
    detail::for_rows(n, G3, [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t k = first; k < last; ++k) {
        const std::int64_t b = r.row(k);
        const T* x = gx.data<T>() + (t * B + b) * G3;
        const T* g = sv.GH.data<T>() + (i * B + k) * G3;
        const T* bb = bias.data<T>() + (r.bias_per_row ? b * G3 : 0);
        T* a = sv.A.data<T>() + (i * B + k) * G3;
        const T* h = sv.S.data<T>() + (i * B + k) * H;
        T* h_next = sv.S.data<T>() + ((i + 1) * B + k) * H;
        T* y = Y.data<T>() + (t * B + b) * H;
#pragma GCC ivdep  // the rows read and written never overlap
        for (std::int64_t j = 0; j < H; ++j) {
          const T nj = detail::tanh<T>(x[2 * H + j] + g[2 * H + j] + bb[2 * H + j]), z = a[H + j];
          a[2 * H + j] = nj;
          h_next[j] = y[j] = (T(1) - z) * nj + z * h[j];
        }
      }
    });
  }
  detail::unsort_rows(r, sv.S.select(0, r.T).data<T>(), Y.select(0, r.T).data<T>(), H);
}

// Fills dGX [T, B, 3H] (by time, caller's order) and dGH [T, B, 3H] (by step, sorted rows);
// returns dL/dh0.
template <class T>
Tensor gru_backward(const Recurrence& r, GruReset reset, const Tensor& w, const GruSaved& sv,
                    const Tensor& dY, const Tensor& dGX, const Tensor& dGH) {
  const std::int64_t B = r.B, H = r.H, G3 = 3 * H;
  const GemmPackingScope packing;  // every step multiplies by the same weights: pack them once
  const Tensor w_rz = w.narrow(0, 0, 2 * H), w_n = w.narrow(0, 2 * H, H);
  if (reset == GruReset::After) {
    packing.keep(w);
  } else {
    packing.keep(w_rz);
    packing.keep(w_n);
  }
  Tensor dh = Tensor::empty({B, H}, dY.dtype()), dprev = Tensor::empty({B, H}, dY.dtype());
  detail::sort_rows(r, dY.select(0, r.T).data<T>(), dh.data<T>(), H);
  Tensor drh = reset == GruReset::Before ? Tensor::empty({B, H}, dY.dtype()) : Tensor();
  for (std::int64_t i = r.T - 1; i >= 0; --i) {
    const std::int64_t t = r.time(i), n = r.live_rows(t);
    const Tensor dgh_i = dGH.select(0, i);
    detail::for_rows(B, G3, [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t k = first; k < last; ++k) {
        const std::int64_t b = r.row(k);
        T* d = dh.data<T>() + k * H;
        T* dp = dprev.data<T>() + k * H;
        T* dgx = dGX.data<T>() + (t * B + b) * G3;
        T* dgh = dgh_i.data<T>() + k * G3;
        if (k >= n) {  // the state passed through unchanged; the zero output has no gradient
          std::copy_n(d, H, dp);
          std::fill_n(dgx, G3, T(0));
          std::fill_n(dgh, G3, T(0));
          continue;
        }
        const T* dy = dY.data<T>() + (t * B + b) * H;
        const T* a = sv.A.data<T>() + (i * B + k) * G3;
        const T* g = sv.GH.data<T>() + (i * B + k) * G3;
        const T* h = sv.S.data<T>() + (i * B + k) * H;
#pragma GCC ivdep  // the rows read and written never overlap
        for (std::int64_t j = 0; j < H; ++j) {
          const T dhj = d[j] + dy[j], rr = a[j], z = a[H + j], nj = a[2 * H + j];
          const T dn_pre = dhj * (T(1) - z) * (T(1) - nj * nj);
          const T dz_pre = dhj * (h[j] - nj) * z * (T(1) - z);
          dp[j] = dhj * z;
          dgx[H + j] = dgh[H + j] = dz_pre;
          dgx[2 * H + j] = dn_pre;
          if (reset == GruReset::After) {
            const T dr_pre = dn_pre * g[2 * H + j] * rr * (T(1) - rr);
            dgx[j] = dgh[j] = dr_pre;
            dgh[2 * H + j] = dn_pre * rr;
          } else {
            dgh[2 * H + j] = dn_pre;
          }
        }
      }
    });
    if (n > 0) {
      const Tensor dgh_live = dgh_i.narrow(0, 0, n), dprev_live = dprev.narrow(0, 0, n);
      if (reset == GruReset::After) {
        gemm(dgh_live, w, dprev_live, 1.0, 1.0);
      } else {
        gemm(dgh_live.narrow(1, 2 * H, H), w_n, drh.narrow(0, 0, n));
        detail::for_rows(n, G3, [&](std::int64_t first, std::int64_t last) {
          for (std::int64_t k = first; k < last; ++k) {
            const T* a = sv.A.data<T>() + (i * B + k) * G3;
            const T* h = sv.S.data<T>() + (i * B + k) * H;
            const T* d_rh = drh.data<T>() + k * H;
            T* dp = dprev.data<T>() + k * H;
            T* dgx = dGX.data<T>() + (t * B + r.row(k)) * G3;
            T* dgh = dgh_i.data<T>() + k * G3;
#pragma GCC ivdep  // the rows read and written never overlap
            for (std::int64_t j = 0; j < H; ++j) {
              const T rr = a[j];
              dp[j] += d_rh[j] * rr;
              dgx[j] = dgh[j] = d_rh[j] * h[j] * rr * (T(1) - rr);
            }
          }
        });
        gemm(dgh_live.narrow(1, 0, 2 * H), w_rz, dprev_live, 1.0, 1.0);
      }
    }
    std::swap(dh, dprev);
  }
  Tensor dh0 = Tensor::empty({B, H}, dY.dtype());
  detail::unsort_rows(r, dh.data<T>(), dh0.data<T>(), H);
  return dh0;
}

}  // namespace

Variable gru_sequence(const Variable& gx, const Variable& h0, const Variable& w_hh,
                      const Variable& b_hh, const std::vector<std::int64_t>& lengths, bool reverse,
                      GruReset reset) {
  const Recurrence r =
      detail::check_recurrence("gru_sequence", 3, gx, h0, w_hh, b_hh, lengths, reverse);
  const DType dt = gx.dtype();
  const Tensor x = gx.value().contiguous(), w = w_hh.value().contiguous(),
               bias = b_hh.value().contiguous();
  GruSaved sv{Tensor::empty({r.T + 1, r.B, r.H}, dt), Tensor::empty({r.T, r.B, 3 * r.H}, dt),
              Tensor::empty({r.T, r.B, 3 * r.H}, dt),
              reset == GruReset::Before ? Tensor::empty({r.T, r.B, r.H}, dt) : Tensor()};
  const Tensor h0v = h0.value().contiguous();
  Tensor Y = Tensor::empty({r.T + 1, r.B, r.H}, dt);
  dispatch_floating(dt, "gru_sequence", [&]<class T>() {
    detail::sort_rows(r, h0v.data<T>(), sv.S.data<T>(), r.H);
    gru_forward<T>(r, reset, x, w, bias, sv, Y);
  });

  auto backward = [r, reset, w, sv](const Tensor& gy, GradSlots& dx) {
    const Tensor dY = gy.contiguous();
    Tensor dGX = Tensor::empty({r.T, r.B, 3 * r.H}, gy.dtype()),
           dGH = Tensor::empty(dGX.shape(), gy.dtype());
    Tensor dh0;
    dispatch_floating(gy.dtype(), "gru_sequence",
                      [&]<class T>() { dh0 = gru_backward<T>(r, reset, w, sv, dY, dGX, dGH); });
    dx[0] += dGX;
    dx[1] += dh0;
    if (dx.needed(2)) {
      const Tensor states = detail::step_rows(sv.S.narrow(0, 0, r.T)),
                   rows = detail::step_rows(dGH);
      if (reset == GruReset::After) {
        dx[2] += matmul(rows.t(), states);
      } else {
        Tensor dw = Tensor::empty({3 * r.H, r.H}, gy.dtype());
        gemm(rows.narrow(1, 0, 2 * r.H).t(), states, dw.narrow(0, 0, 2 * r.H));
        gemm(rows.narrow(1, 2 * r.H, r.H).t(), detail::step_rows(sv.RH),
             dw.narrow(0, 2 * r.H, r.H));
        dx[2] += dw;
      }
    }
    if (dx.needed(3)) dx[3] += detail::bias_grad(dGH, r);
  };
  return record("gru_sequence", Y, {gx, h0, w_hh, b_hh}, backward, {w});
}

}  // namespace seqgrad::nn::functional
