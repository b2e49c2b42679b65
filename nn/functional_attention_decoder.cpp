// The teacher-forced decoder of an attention encoder-decoder (Bahdanau et al. 2015) as one graph
// node: for t = 0 .. T-1, with s_0 given,
//   q_t  = s_t W_q^T                                  the query              [B, A]
//   c_t  = additive attention read with q_t            (nn/attention_rows.h)  [B, D]
//   gx_t = gx_e_t + c_t W_c^T                          the GRU's input part   [B, 3H]
//   s_{t+1} = GRU(gx_t, s_t)  with gh_t = s_t W_hh^T + b_hh, PyTorch's gates (reset after):
//     r = σ(gx_r + gh_r),  z = σ(gx_z + gh_z),  n = tanh(gx_n + r gh_n),  s' = (1 - z) n + z s
// and outputs y_t = [s_{t+1}; c_t], the readout's input. gx_e (the target-embedding part of the
// input projection, plus b_ih) does not depend on the recurrence, so the caller computes it for
// all steps in one GEMM. The loop over steps and threads is nn/recurrence.h's, and the GRU's gate
// math nn/gate_rows.h's reset-after rows, shared with gru_sequence.
//
// Why one node: composed per step, the backward pass multiplies each step's gradients by W_q, W_c
// and W_hh and their weight gradients are T GEMMs with K = B each (plus T accumulations). Here the
// forward does two GEMMs per step (s_t [W_q; W_hh]^T and c_t W_c^T), the backward two (the
// gradient into s_t through [W_q; W_hh], and into c_t through W_c), and the weight gradients are
// single GEMMs over all T*B rows, as in gru_sequence.
//
// Backward per step t (from T-1 down), ds being the gradient reaching s_{t+1}:
//   GRU gates as in functional_gru.cpp -> dgx_t, dgh_t, ds_t = ds z
//   dc_t = dy_c + dgx_t W_c;  the attention backward -> dq_t, dkeys, dvalues, dv
//   ds_t += [dq_t, dgh_t] [W_q; W_hh]
// then dW_q, dW_hh = [dq, dgh]^T S, dW_c = dgx^T C, db_hh = Σ dgh, dgx_e = dgx.
#include <algorithm>
#include <utility>
#include <vector>

#include "nn/attention_rows.h"
#include "nn/functional.h"
#include "nn/gate_rows.h"
#include "nn/recurrence.h"

namespace seqgrad::nn::functional {

namespace {

using detail::AttentionShape;
using detail::Recurrence;
using detail::row_of;

struct DecoderShape {
  std::int64_t T, H;
  AttentionShape att;  // B, S, A, D; q_stride = A + 3H: q sits in the [q, gh] block
  std::int64_t qg() const { return att.A + 3 * H; }
};

// The kernel keeps what the backward pass needs; the forward's operands and the backward's
// buffers are set while each runs and dropped after. Every row is live at every step (a target
// shorter than T is masked by the loss, not here), and rows are in the caller's order.
struct DecoderKernel {
  Recurrence r;
  DecoderShape n;
  std::vector<std::int64_t> lengths;  // source lengths, for the attention
  Tensor w_qh, w_c, v, values, bias;  // [A + 3H, H], [3H, D], [A], [B, S, D], [3H]
  Tensor S;                           // [T+1, B, H]      s_t (row 0: s_0)
  Tensor C;                           // [T, B, D]        c_t
  Tensor QG;                          // [T, B, A + 3H]   [q_t, gh_t] (gh_n with b_hh)
  Tensor gates;                       // [T, B, 3H]       r, z, n
  Tensor tanh;                        // [T, B, S, A]     the attention's tanh(keys + q)
  Tensor alpha;                       // [T, B, S]        the attention weights
  Tensor gx_e, keys, gx, Y;  // forward: [T, B, 3H], [B, S, A], one step's [B, 3H], the output
  Tensor dY, DQG, DGX, dkeys, dvalues, dv_parts, dc;  // backward (see the top of the file)

  // A step's attention backward sums over all rows (dv_parts): one range, split per step instead.
  static constexpr bool kSplitsBySequence = false;
  int stages() const { return 1; }
  // q_t and gh_t, the attention read c_t, and gx_t = gx_e_t + c_t W_c^T.
  template <class T>
  void forward_products(std::int64_t t) {
    const Tensor qg = QG.select(0, t);
    gemm(S.select(0, t), w_qh.t(), qg);
    detail::attention_forward<T>(n.att, lengths, qg.data<T>(), keys.data<T>(), v.data<T>(),
                                 values.data<T>(), tanh.select(0, t).data<T>(),
                                 alpha.select(0, t).data<T>(), C.select(0, t).data<T>());
    gx.copy_(gx_e.select(0, t));
    gemm(C.select(0, t), w_c.t(), gx, 1.0, 1.0);
  }
  void products(std::int64_t t, std::int64_t, std::int64_t, int) {
    dispatch_floating(S.dtype(), "attention_gru_decoder",
                      [&]<class T>() { forward_products<T>(t); });
  }
  template <class T>
  void row(std::int64_t t, std::int64_t b, int) {
    T* y = row_of<T>(Y, t, b);  // [s_{t+1}; c_t]
    detail::gate_rows<T>().gru_after(n.H, row_of<T>(gx, b), row_of<T>(QG, t, b) + n.att.A,
                                     bias.data<T>(), row_of<T>(S, t, b), row_of<T>(gates, t, b),
                                     row_of<T>(S, t + 1, b), y);
    std::copy_n(row_of<T>(C, t, b), n.att.D, y + n.H);
  }

  template <class T>
  void backward_row(std::int64_t t, std::int64_t b, int, const std::vector<Tensor>& d,
                    const std::vector<Tensor>& d_prev) {
    T* dq = row_of<T>(DQG, t, b);
    std::fill_n(dq, n.att.A, T(0));
    const T* dy = row_of<T>(dY, t, b);
    detail::gate_rows<T>().gru_after_backward(
        n.H, row_of<T>(d[0], b), dy, row_of<T>(gates, t, b), row_of<T>(QG, t, b) + n.att.A,
        row_of<T>(S, t, b), row_of<T>(d_prev[0], b), row_of<T>(DGX, t, b), dq + n.att.A);
    std::copy_n(dy + n.H, n.att.D, row_of<T>(dc, b));
  }
  // dc_t += dgx_t W_c, the attention backward, then ds_t += [dq_t, dgh_t] [W_q; W_hh].
  template <class T>
  void step_backward_products(std::int64_t t, const Tensor& ds_prev) {
    gemm(DGX.select(0, t), w_c, dc, 1.0, 1.0);
    detail::attention_backward<T>(n.att, lengths, v.data<T>(), values.data<T>(),
                                  tanh.select(0, t).data<T>(), alpha.select(0, t).data<T>(),
                                  dc.data<T>(), DQG.select(0, t).data<T>(), dkeys.data<T>(),
                                  dvalues.data<T>(), dv_parts.data<T>());
    gemm(DQG.select(0, t), w_qh, ds_prev, 1.0, 1.0);
  }
  void backward_products(std::int64_t t, std::int64_t, std::int64_t, int,
                         const std::vector<Tensor>& d_prev) {
    dispatch_floating(S.dtype(), "attention_gru_decoder",
                      [&]<class T>() { step_backward_products<T>(t, d_prev[0]); });
  }
};

DecoderShape check_decoder(const Variable& gx_e, const Variable& s0, const Variable& w_q,
                           const Variable& keys, const Variable& v, const Variable& values,
                           const Variable& w_c, const Variable& w_hh, const Variable& b_hh,
                           const std::vector<std::int64_t>& lengths) {
  const char* op = "attention_gru_decoder";
  check(gx_e.dim() == 3 && s0.dim() == 2 && w_q.dim() == 2 && keys.dim() == 3 && v.dim() == 1 &&
            values.dim() == 3 && w_c.dim() == 2 && w_hh.dim() == 2 && b_hh.dim() == 1,
        "{}: expected gx_e [T, B, 3H], s0 [B, H], w_q [A, H], keys [B, S, A], v [A], values [B, "
        "S, D], w_c [3H, D], w_hh [3H, H], b_hh [3H], got gx_e {} s0 {} w_q {} keys {} v {} "
        "values {} w_c {} w_hh {} b_hh {}",
        op, gx_e.shape(), s0.shape(), w_q.shape(), keys.shape(), v.shape(), values.shape(),
        w_c.shape(), w_hh.shape(), b_hh.shape());
  const std::int64_t T = gx_e.size(0), B = s0.size(0), H = s0.size(1);
  const std::int64_t S = keys.size(1), A = keys.size(2), D = values.size(2);
  check(gx_e.size(1) == B && gx_e.size(2) == 3 * H && w_q.size(0) == A && w_q.size(1) == H &&
            keys.size(0) == B && v.size(0) == A && values.size(0) == B && values.size(1) == S &&
            w_c.size(0) == 3 * H && w_c.size(1) == D && w_hh.size(0) == 3 * H &&
            w_hh.size(1) == H && b_hh.size(0) == 3 * H,
        "{}: shapes do not agree: gx_e {} s0 {} w_q {} keys {} v {} values {} w_c {} w_hh {} b_hh "
        "{}",
        op, gx_e.shape(), s0.shape(), w_q.shape(), keys.shape(), v.shape(), values.shape(),
        w_c.shape(), w_hh.shape(), b_hh.shape());
  check(T >= 1, "{}: gx_e {} has no steps (T = 0): nothing to decode", op, gx_e.shape());
  const DType dt = gx_e.dtype();
  for (const Variable* x : {&s0, &w_q, &keys, &v, &values, &w_c, &w_hh, &b_hh})
    check(x->dtype() == dt && is_floating(dt),
          "{}: all inputs must share one floating dtype, got {} and {}", op, dt, x->dtype());
  const DecoderShape n{T, H, AttentionShape{B, S, A, D, A + 3 * H}};
  detail::check_attention_lengths(op, lengths, n.att);
  return n;
}

}  // namespace

Variable attention_gru_decoder(const Variable& gx_e, const Variable& s0, const Variable& w_q,
                               const Variable& keys, const Variable& v, const Variable& values,
                               const Variable& w_c, const Variable& w_hh, const Variable& b_hh,
                               const std::vector<std::int64_t>& lengths) {
  const DecoderShape n = check_decoder(gx_e, s0, w_q, keys, v, values, w_c, w_hh, b_hh, lengths);
  const std::int64_t T = n.T, B = n.att.B, H = n.H, S = n.att.S, A = n.att.A, D = n.att.D;
  const DType dt = gx_e.dtype();
  auto kernel = std::make_shared<DecoderKernel>();
  DecoderKernel& k = *kernel;
  // Every row runs every step, in the caller's order.
  k.r = detail::check_recurrence("attention_gru_decoder", 3, gx_e, s0, w_hh, b_hh, {}, false);
  k.n = n;
  k.lengths = lengths;
  // w_qh (and w_c when it is not contiguous, as the model's narrow view is) are copies taken
  // here, so the backward uses the weights of the forward pass even if they change in place in
  // between; only values, v and a contiguous w_c are shared and version-checked.
  k.w_qh = cat({w_q.value(), w_hh.value()}, 0);  // [A + 3H, H]: one GEMM per step
  k.w_c = w_c.value().contiguous();
  k.v = v.value().contiguous();
  k.values = values.value().contiguous();
  k.bias = b_hh.value().contiguous();
  k.S = Tensor::empty({T + 1, B, H}, dt);
  k.C = Tensor::empty({T, B, D}, dt);
  k.QG = Tensor::empty({T, B, n.qg()}, dt);
  k.gates = Tensor::empty({T, B, 3 * H}, dt);
  k.tanh = Tensor::empty({T, B, S, A}, dt);
  k.alpha = Tensor::empty({T, B, S}, dt);
  k.gx_e = gx_e.value().contiguous();
  k.keys = keys.value().contiguous();
  k.gx = Tensor::empty({B, 3 * H}, dt);
  const Tensor Y = k.Y = Tensor::empty({T, B, H + D}, dt);
  k.S.select(0, 0).copy_(s0.value());
  dispatch_floating(dt, "attention_gru_decoder", [&]<class T>() {
    detail::recurrence_forward<T>(k.r, k, {k.S}, {}, {k.w_qh.t(), k.w_c.t()});
  });
  k.gx_e = k.keys = k.gx = k.Y = Tensor();

  auto backward = [kernel](const Tensor& gy, GradSlots& dx) {
    DecoderKernel& k = *kernel;
    const std::int64_t T = k.n.T, B = k.n.att.B, H = k.n.H, A = k.n.att.A;
    const DType dt = gy.dtype();
    k.dY = gy.contiguous();
    k.DQG = Tensor::empty({T, B, k.n.qg()}, dt);
    k.DGX = Tensor::empty({T, B, 3 * H}, dt);
    k.dkeys = zeros({B, k.n.att.S, A}, dt);
    k.dvalues = zeros({B, k.n.att.S, k.n.att.D}, dt);
    k.dv_parts = zeros({parallel_chunks(B), A}, dt);
    k.dc = Tensor::empty({B, k.n.att.D}, dt);
    Tensor ds0;
    dispatch_floating(dt, "attention_gru_decoder", [&]<class T>() {
      ds0 = detail::recurrence_backward<T>(k.r, k, {zeros({B, H}, dt)}, {}, {k.w_qh, k.w_c})[0];
    });
    const Tensor dqg_rows = detail::step_rows(k.DQG);
    if (dx.needed(2) || dx.needed(7)) {
      const Tensor dw_qh = matmul(dqg_rows.t(), detail::step_rows(k.S.narrow(0, 0, T)));
      if (dx.needed(2)) dx[2] += dw_qh.narrow(0, 0, A);
      if (dx.needed(7)) dx[7] += dw_qh.narrow(0, A, 3 * H);
    }
    if (dx.needed(4)) dx[4] += sum(k.dv_parts, {0});
    if (dx.needed(6)) dx[6] += matmul(detail::step_rows(k.DGX).t(), detail::step_rows(k.C));
    if (dx.needed(8)) dx[8] += sum(dqg_rows.narrow(1, A, 3 * H), {0});
    // Moved, not copied: a gradient that reaches a leaf unshared is kept without a clone.
    dx[0] += std::exchange(k.DGX, Tensor());
    dx[1] += std::move(ds0);
    dx[3] += std::exchange(k.dkeys, Tensor());
    dx[5] += std::exchange(k.dvalues, Tensor());
    k.dY = k.DQG = k.dv_parts = k.dc = Tensor();
  };
  return record("attention_gru_decoder", Y, {gx_e, s0, w_q, keys, v, values, w_c, w_hh, b_hh},
                backward, {k.w_qh, k.v, k.values, k.w_c});
}

}  // namespace seqgrad::nn::functional
