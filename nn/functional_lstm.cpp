// LSTM layer over a whole sequence: one graph node, hand-written backward (see functional.h).
// Per step i (time t) and live sequence b, with pre = gx + h W_hh^T + b_hh split into i, f, g, o:
//   i = σ(pre_i), f = σ(pre_f), g = tanh(pre_g), o = σ(pre_o)
//   c' = f c + i g,  h' = o tanh(c')
// Backward, dh and dc being the gradients reaching h' and c':
//   dc += dh o (1 - tanh²(c'));  do = dh tanh(c')
//   di = dc g,  df = dc c,  dg = dc i,  dc_prev = dc f
//   dpre = (di i(1-i), df f(1-f), dg (1-g²), do o(1-o));  dh_prev = dpre W_hh
// The loop over steps, padding and threads is nn/recurrence.h's, the gate math of a row
// nn/gate_rows.h's.
#include <algorithm>
#include <utility>

#include "nn/functional.h"
#include "nn/gate_rows.h"
#include "nn/recurrence.h"

namespace seqgrad::nn::functional {

namespace {

using detail::Recurrence;
using detail::row_of;

struct LstmKernel : detail::LayerKernel {
  Tensor C;  // [T+1, B, H] c before step i, rows sorted
  Tensor A;  // [T, B, 4H] i, f, g, o by step, rows sorted

  static constexpr bool kSplitsBySequence = true;
  int stages() const { return 1; }
  // h W_hh^T for the running sequences, activated in place below.
  void products(std::int64_t i, std::int64_t first, std::int64_t last, int) {
    gemm(S.select(0, i).narrow(0, first, last - first), w.t(),
         A.select(0, i).narrow(0, first, last - first));
  }
  template <class T>
  void row(std::int64_t i, std::int64_t k, int) {
    const std::int64_t t = r.time(i), b = r.row(k), H = r.H, G4 = 4 * H;
    T* a = row_of<T>(A, i, k);
    const T* c = row_of<T>(C, i, k);
    T* c_next = row_of<T>(C, i + 1, k);
    T* h_next = row_of<T>(S, i + 1, k);
    T* y = row_of<T>(Y, t, b);
    const T* x = row_of<T>(gx, t, b);
    const T* bb = bias.data<T>() + (r.bias_per_row ? b * G4 : 0);
    detail::gate_rows<T>().lstm(H, x, bb, c, a, c_next, h_next, y);
  }

  template <class T>
  void backward_row(std::int64_t i, std::int64_t k, int, const std::vector<Tensor>& d,
                    const std::vector<Tensor>& d_prev) {
    const std::int64_t t = r.time(i), b = r.row(k), H = r.H;
    const T* dh = row_of<T>(d[0], k);
    const T* dc = row_of<T>(d[1], k);
    const T* dy = row_of<T>(dY, t, b);
    const T* a = row_of<T>(A, i, k);
    const T* c = row_of<T>(C, i, k);
    const T* c_next = row_of<T>(C, i + 1, k);
    T* dhp = row_of<T>(d_prev[0], k);
    T* dcp = row_of<T>(d_prev[1], k);
    T* dg = row_of<T>(dG, i, k);
    detail::gate_rows<T>().lstm_backward(H, dh, dc, dy, a, c, c_next, dhp, dcp, dg);
    std::copy_n(dg, 4 * H, row_of<T>(dGX, t, b));
  }
  void backward_products(std::int64_t i, std::int64_t first, std::int64_t last, int,
                         const std::vector<Tensor>& d_prev) {
    gemm(dG.select(0, i).narrow(0, first, last - first), w,
         d_prev[0].narrow(0, first, last - first), 1.0, 1.0);
  }
};

}  // namespace

SequenceResult lstm_sequence(const Variable& gx, const Variable& h0, const Variable& c0,
                             const Variable& w_hh, const Variable& b_hh,
                             const std::vector<std::int64_t>& lengths, bool reverse) {
  check(c0.defined() && c0.shape() == h0.shape() && c0.dtype() == h0.dtype(),
        "lstm_sequence: c0 must have h0's shape {} and dtype, got {}", h0.shape(),
        c0.defined() ? c0.shape() : Dims{});
  const auto [kernel, block] = detail::start_layer(LstmKernel{}, "lstm_sequence", 4, gx, h0, w_hh,
                                                   b_hh, lengths, reverse, 2);
  LstmKernel& k = *kernel;
  const Recurrence& r = k.r;
  k.C = Tensor::empty({r.T + 1, r.B, r.H}, gx.dtype());
  k.A = Tensor::empty({r.T, r.B, 4 * r.H}, gx.dtype());
  dispatch_floating(gx.dtype(), "lstm_sequence", [&]<class T>() {
    detail::sort_into<T>(r, h0.value(), k.S.select(0, 0));
    detail::sort_into<T>(r, c0.value(), k.C.select(0, 0));
    detail::recurrence_forward<T>(r, k, {k.S, k.C}, {{k.Y, true}, {k.A, false}}, {k.w.t()});
    detail::unsort_rows(r, k.S.select(0, r.T).data<T>(), block.select(0, r.T).data<T>(), r.H);
    detail::unsort_rows(r, k.C.select(0, r.T).data<T>(), block.select(0, r.T + 1).data<T>(), r.H);
  });
  const std::vector<Tensor> outputs = k.finish_forward(block);

  auto backward = [kernel](std::span<const Tensor> gys, GradSlots& dx) {
    LstmKernel& k = *kernel;
    const Recurrence& r = k.r;
    k.start_backward(gys[0]);
    std::vector<Tensor> d0;
    dispatch_floating(k.dY.dtype(), "lstm_sequence", [&]<class T>() {
      d0 = detail::recurrence_backward<T>(
          r, k, {detail::sorted_copy<T>(r, gys[1]), detail::sorted_copy<T>(r, gys[2])},
          {{k.dGX, true}, {k.dG, false}}, {k.w});
      d0 = {detail::unsorted_copy<T>(r, d0[0]), detail::unsorted_copy<T>(r, d0[1])};
    });
    if (dx.needed(3))
      dx[3] += matmul(detail::step_rows(k.dG).t(), detail::step_rows(k.S.narrow(0, 0, r.T)));
    if (dx.needed(4)) dx[4] += detail::bias_grad(k.dG, r);
    dx[0] += std::exchange(k.dGX, Tensor());
    dx[1] += d0[0];
    dx[2] += d0[1];
    k.finish_backward();
  };
  auto out = record_outputs("lstm_sequence", outputs, {gx, h0, c0, w_hh, b_hh}, backward, {k.w});
  return {out[0], {out[1], out[2]}};
}

}  // namespace seqgrad::nn::functional
