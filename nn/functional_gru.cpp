// GRU layer over a whole sequence: one graph node, hand-written backward (see functional.h).
// Per step i (time t) and live sequence b, with gh = h W_hh^T + b_hh:
//   r = σ(gx_r + gh_r),  z = σ(gx_z + gh_z),  h' = (1 - z) n + z h, and
//   After:  n = tanh(gx_n + r gh_n)                    one GEMM per step (all three gates)
//   Before: n = tanh(gx_n + (r h) W_hn^T + b_hn)       a second GEMM once r is known: two stages
// Backward, dh being the gradient reaching h' (from the next step and from the output):
//   dn_pre = dh (1 - z)(1 - n²),  dz_pre = dh (h - n) z (1 - z),  dh_prev = dh z + ...
//   After:  dgh_n = dn_pre r,  dr = dn_pre gh_n
//   Before: dgh_n = dn_pre,    d(rh) = dgh_n W_hn,  dr = d(rh) h,  dh_prev += d(rh) r
//   dr_pre = dr r (1 - r);  dgx = (dr_pre, dz_pre, dn_pre);  dgh_rz = (dr_pre, dz_pre)
//   dh_prev += dgh W_hh (After: all rows; Before: the r, z rows)
// The loop over steps, padding and threads is nn/recurrence.h's, the gate math of a row
// nn/gate_rows.h's (the reset-after rows are shared with the attention decoder).
#include <utility>

#include "nn/functional.h"
#include "nn/gate_rows.h"
#include "nn/recurrence.h"

namespace seqgrad::nn::functional {

namespace {

using detail::Recurrence;
using detail::row_of;

struct GruKernel : detail::LayerKernel {
  explicit GruKernel(GruReset which) : reset(which) {}
  GruReset reset;
  Tensor w_rz, w_n;  // W_hh's r, z rows and n rows
  Tensor A;          // [T, B, 3H] r, z, n by step, rows sorted
  Tensor GH;         // [T, B, 3H] h W_hh^T + b_hh (After: row n is what r multiplies)
  Tensor RH;         // [T, B, H] r h (Before only: the operand of the second GEMM)
  Tensor dRH;        // backward, Before: dL/d(r h) of one step [B, H]

  static constexpr bool kSplitsBySequence = true;
  int stages() const { return reset == GruReset::After ? 1 : 2; }

  void products(std::int64_t i, std::int64_t first, std::int64_t last, int stage) {
    const std::int64_t rows = last - first;
    const Tensor gh = GH.select(0, i).narrow(0, first, rows);
    if (reset == GruReset::After)
      gemm(S.select(0, i).narrow(0, first, rows), w.t(), gh);
    else if (stage == 0)
      gemm(S.select(0, i).narrow(0, first, rows), w_rz.t(), gh.narrow(1, 0, 2 * r.H));
    else
      gemm(RH.select(0, i).narrow(0, first, rows), w_n.t(), gh.narrow(1, 2 * r.H, r.H));
  }
  template <class T>
  void row(std::int64_t i, std::int64_t k, int stage) {
    const std::int64_t t = r.time(i), b = r.row(k), H = r.H, G3 = 3 * H;
    T* a = row_of<T>(A, i, k);
    T* g = row_of<T>(GH, i, k);
    const T* h = row_of<T>(S, i, k);
    T* h_next = row_of<T>(S, i + 1, k);
    T* y = row_of<T>(Y, t, b);
    const T* x = row_of<T>(gx, t, b);
    const T* bb = bias.data<T>() + (r.bias_per_row ? b * G3 : 0);
    const detail::GateRows<T>& rows = detail::gate_rows<T>();
    if (reset == GruReset::After) return rows.gru_after(H, x, g, bb, h, a, h_next, y);
    if (stage == 0)  // r and z; n needs the second GEMM, of r h
      return rows.gru_before_rz(H, x, g, bb, h, a, row_of<T>(RH, i, k));
    rows.gru_before_n(H, x, g, bb, h, a, h_next, y);
  }

  template <class T>
  void backward_row(std::int64_t i, std::int64_t k, int stage, const std::vector<Tensor>& d,
                    const std::vector<Tensor>& d_prev) {
    const std::int64_t t = r.time(i), b = r.row(k), H = r.H;
    const T* a = row_of<T>(A, i, k);
    const T* h = row_of<T>(S, i, k);
    T* dp = row_of<T>(d_prev[0], k);
    T* dgx = row_of<T>(dGX, t, b);
    T* dgh = row_of<T>(dG, i, k);
    const detail::GateRows<T>& rows = detail::gate_rows<T>();
    if (reset == GruReset::After)
      return rows.gru_after_backward(H, row_of<T>(d[0], k), row_of<T>(dY, t, b), a,
                                     row_of<T>(GH, i, k), h, dp, dgx, dgh);
    if (stage == 1)  // z and n (the first to run backward)
      return rows.gru_before_zn_backward(H, row_of<T>(d[0], k), row_of<T>(dY, t, b), a, h, dp, dgx,
                                         dgh);
    // r, once d(r h) = dgh_n W_hn is known
    rows.gru_before_r_backward(H, row_of<T>(dRH, k), a, h, dp, dgx, dgh);
  }
  void backward_products(std::int64_t i, std::int64_t first, std::int64_t last, int stage,
                         const std::vector<Tensor>& d_prev) {
    const std::int64_t rows = last - first;
    const Tensor dgh = dG.select(0, i).narrow(0, first, rows);
    const Tensor dprev = d_prev[0].narrow(0, first, rows);
    if (reset == GruReset::After)
      gemm(dgh, w, dprev, 1.0, 1.0);
    else if (stage == 1)
      gemm(dgh.narrow(1, 2 * r.H, r.H), w_n, dRH.narrow(0, first, rows));
    else
      gemm(dgh.narrow(1, 0, 2 * r.H), w_rz, dprev, 1.0, 1.0);
  }
};

}  // namespace

SequenceResult gru_sequence(const Variable& gx, const Variable& h0, const Variable& w_hh,
                            const Variable& b_hh, const std::vector<std::int64_t>& lengths,
                            bool reverse, GruReset reset) {
  const auto [kernel, block] = detail::start_layer(GruKernel(reset), "gru_sequence", 3, gx, h0,
                                                   w_hh, b_hh, lengths, reverse, 1);
  GruKernel& k = *kernel;
  const Recurrence& r = k.r;
  const bool before = reset == GruReset::Before;
  const DType dt = gx.dtype();
  k.w_rz = k.w.narrow(0, 0, 2 * r.H);
  k.w_n = k.w.narrow(0, 2 * r.H, r.H);
  k.A = Tensor::empty({r.T, r.B, 3 * r.H}, dt);
  k.GH = Tensor::empty({r.T, r.B, 3 * r.H}, dt);
  if (before) k.RH = Tensor::empty({r.T, r.B, r.H}, dt);
  std::vector<detail::StepRows> dead = {{k.Y, true}, {k.A, false}, {k.GH, false}};
  if (before) dead.push_back({k.RH, false});
  dispatch_floating(dt, "gru_sequence", [&]<class T>() {
    detail::sort_into<T>(r, h0.value(), k.S.select(0, 0));
    const std::vector<Tensor> weights =
        before ? std::vector<Tensor>{k.w_rz.t(), k.w_n.t()} : std::vector<Tensor>{k.w.t()};
    detail::recurrence_forward<T>(r, k, {k.S}, dead, weights);
    detail::unsort_rows(r, k.S.select(0, r.T).data<T>(), block.select(0, r.T).data<T>(), r.H);
  });
  const std::vector<Tensor> outputs = k.finish_forward(block);

  auto backward = [kernel](std::span<const Tensor> gys, GradSlots& dx) {
    GruKernel& k = *kernel;
    const Recurrence& r = k.r;
    const bool before = k.reset == GruReset::Before;
    k.start_backward(gys[0]);
    if (before) k.dRH = Tensor::empty({r.B, r.H}, k.dY.dtype());
    Tensor dh0;
    dispatch_floating(k.dY.dtype(), "gru_sequence", [&]<class T>() {
      const std::vector<Tensor> weights =
          before ? std::vector<Tensor>{k.w_rz, k.w_n} : std::vector<Tensor>{k.w};
      const auto d0 = detail::recurrence_backward<T>(r, k, {detail::sorted_copy<T>(r, gys[1])},
                                                     {{k.dGX, true}, {k.dG, false}}, weights);
      dh0 = detail::unsorted_copy<T>(r, d0[0]);
    });
    if (dx.needed(2)) {
      const Tensor states = detail::step_rows(k.S.narrow(0, 0, r.T)),
                   rows = detail::step_rows(k.dG);
      if (!before) {
        dx[2] += matmul(rows.t(), states);
      } else {
        Tensor dw = Tensor::empty({3 * r.H, r.H}, k.dY.dtype());
        gemm(rows.narrow(1, 0, 2 * r.H).t(), states, dw.narrow(0, 0, 2 * r.H));
        gemm(rows.narrow(1, 2 * r.H, r.H).t(), detail::step_rows(k.RH), dw.narrow(0, 2 * r.H, r.H));
        dx[2] += dw;
      }
    }
    if (dx.needed(3)) dx[3] += detail::bias_grad(k.dG, r);
    dx[0] += std::exchange(k.dGX, Tensor());
    dx[1] += dh0;
    k.finish_backward();
    k.dRH = Tensor();
  };
  auto out = record_outputs("gru_sequence", outputs, {gx, h0, w_hh, b_hh}, backward, {k.w});
  return {out[0], {out[1]}};
}

}  // namespace seqgrad::nn::functional
