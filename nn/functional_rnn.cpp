// Elman RNN layer over a whole sequence: one graph node, hand-written backward (see functional.h).
// Per step i (time t) and live sequence b:  h' = act(gx + h W_hh^T + b_hh)
// Backward:  dpre = dh act'(h')  (tanh: 1 - h'², relu: h' > 0);  dh_prev = dpre W_hh
// The loop over steps, padding and threads is nn/recurrence.h's, the gate math of a row
// nn/gate_rows.h's.
#include <utility>

#include "nn/functional.h"
#include "nn/gate_rows.h"
#include "nn/recurrence.h"

namespace seqgrad::nn::functional {

namespace {

using detail::Recurrence;
using detail::row_of;
using detail::StepRows;

// S, the state before each step, is also what act' reads.
struct RnnKernel : detail::LayerKernel {
  explicit RnnKernel(RnnActivation activation) : act(activation) {}
  RnnActivation act;

  static constexpr bool kSplitsBySequence = true;
  int stages() const { return 1; }
  // h W_hh^T for the running sequences, into the next state's rows, activated in place below.
  void products(std::int64_t i, std::int64_t first, std::int64_t last, int) {
    gemm(S.select(0, i).narrow(0, first, last - first), w.t(),
         S.select(0, i + 1).narrow(0, first, last - first));
  }
  template <class T>
  void row(std::int64_t i, std::int64_t k, int) {
    const std::int64_t t = r.time(i), b = r.row(k), H = r.H;
    T* h_next = row_of<T>(S, i + 1, k);
    T* y = row_of<T>(Y, t, b);
    const T* x = row_of<T>(gx, t, b);
    const T* bb = bias.data<T>() + (r.bias_per_row ? b * H : 0);
    detail::gate_rows<T>().rnn(H, act == RnnActivation::Relu, x, bb, h_next, y);
  }

  template <class T>
  void backward_row(std::int64_t i, std::int64_t k, int, const std::vector<Tensor>& d,
                    const std::vector<Tensor>& d_prev) {
    const std::int64_t t = r.time(i), b = r.row(k), H = r.H;
    const T* dh = row_of<T>(d[0], k);
    const T* dy = row_of<T>(dY, t, b);
    const T* hn = row_of<T>(S, i + 1, k);
    T* dgx = row_of<T>(dGX, t, b);
    T* dg = row_of<T>(dG, i, k);
    T* dp = row_of<T>(d_prev[0], k);
    detail::gate_rows<T>().rnn_backward(H, act == RnnActivation::Relu, dh, dy, hn, dgx, dg, dp);
  }
  void backward_products(std::int64_t i, std::int64_t first, std::int64_t last, int,
                         const std::vector<Tensor>& d_prev) {
    gemm(dG.select(0, i).narrow(0, first, last - first), w,
         d_prev[0].narrow(0, first, last - first), 1.0, 1.0);
  }
};

}  // namespace

SequenceResult rnn_sequence(const Variable& gx, const Variable& h0, const Variable& w_hh,
                            const Variable& b_hh, const std::vector<std::int64_t>& lengths,
                            bool reverse, RnnActivation activation) {
  RnnKernel tanh_or_relu(activation);
  const auto [kernel, block] = detail::start_layer(std::move(tanh_or_relu), "rnn_sequence", 1, gx,
                                                   h0, w_hh, b_hh, lengths, reverse, 1);
  const Recurrence& r = kernel->r;
  RnnKernel& k = *kernel;
  dispatch_floating(gx.dtype(), "rnn_sequence", [&]<class T>() {
    detail::sort_into<T>(r, h0.value(), k.S.select(0, 0));
    detail::recurrence_forward<T>(r, k, {k.S}, {{k.Y, true}}, {k.w.t()});
    detail::unsort_rows(r, k.S.select(0, r.T).data<T>(), block.select(0, r.T).data<T>(), r.H);
  });
  const std::vector<Tensor> outputs = k.finish_forward(block);

  auto backward = [kernel](std::span<const Tensor> gys, GradSlots& dx) {
    RnnKernel& k = *kernel;
    const Recurrence& r = k.r;
    k.start_backward(gys[0]);
    Tensor dh0;
    dispatch_floating(k.dY.dtype(), "rnn_sequence", [&]<class T>() {
      const auto d0 = detail::recurrence_backward<T>(r, k, {detail::sorted_copy<T>(r, gys[1])},
                                                     {{k.dGX, true}, {k.dG, false}}, {k.w});
      dh0 = detail::unsorted_copy<T>(r, d0[0]);
    });
    if (dx.needed(2))
      dx[2] += matmul(detail::step_rows(k.dG).t(), detail::step_rows(k.S.narrow(0, 0, r.T)));
    if (dx.needed(3)) dx[3] += detail::bias_grad(k.dG, r);
    dx[0] += std::exchange(k.dGX, Tensor());
    dx[1] += dh0;
    k.finish_backward();
  };
  auto out = record_outputs("rnn_sequence", outputs, {gx, h0, w_hh, b_hh}, backward, {k.w});
  return {out[0], {out[1]}};
}

}  // namespace seqgrad::nn::functional
