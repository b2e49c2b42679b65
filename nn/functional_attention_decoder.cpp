// The teacher-forced decoder of an attention encoder-decoder (Bahdanau et al. 2015) as one graph
// node: for t = 0 .. T-1, with s_0 given,
//   q_t  = s_t W_q^T                                  the query              [B, A]
//   c_t  = additive attention read with q_t            (nn/attention_rows.h)  [B, D]
//   gx_t = gx_e_t + c_t W_c^T                          the GRU's input part   [B, 3H]
//   s_{t+1} = GRU(gx_t, s_t)  with gh_t = s_t W_hh^T + b_hh, PyTorch's gates (reset after):
//     r = σ(gx_r + gh_r),  z = σ(gx_z + gh_z),  n = tanh(gx_n + r gh_n),  s' = (1 - z) n + z s
// and outputs y_t = [s_{t+1}; c_t]. gx_e (the target-embedding part of the input projection, plus
// b_ih) does not depend on the recurrence, so the caller computes it for all steps in one GEMM.
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

namespace seqgrad::nn::functional {

namespace {

using detail::AttentionShape;

struct DecoderShape {
  std::int64_t T, H;
  AttentionShape att;  // B, S, A, D; q_stride = A + 3H: q sits in the [q, gh] block
  std::int64_t qg() const { return att.A + 3 * H; }
};

// What the forward pass keeps for the backward pass.
struct DecoderSaved {
  Tensor S;      // [T+1, B, H]       s_t (row 0: s_0)
  Tensor C;      // [T, B, D]         c_t
  Tensor QG;     // [T, B, A + 3H]    [q_t, gh_t] (gh_n including b_hh: what r multiplies)
  Tensor gates;  // [T, B, 3H]        r, z, n
  Tensor tanh;   // [T, B, S, A]      the attention's tanh(keys + q)
  Tensor alpha;  // [T, B, S]         the attention weights
};

template <class T>
void decoder_forward(const DecoderShape& n, const std::vector<std::int64_t>& lengths,
                     const Tensor& gx_e, const Tensor& w_qh, const Tensor& b_hh, const Tensor& keys,
                     const Tensor& v, const Tensor& values, const Tensor& w_c,
                     const DecoderSaved& sv, const Tensor& Y) {
  const std::int64_t B = n.att.B, H = n.H, D = n.att.D, A = n.att.A, G3 = 3 * H;
  const GemmPackingScope packing;  // every step multiplies by the same weights: pack them once
  packing.keep(w_qh.t());
  packing.keep(w_c.t());
  const T* bias = b_hh.data<T>();
  const Tensor gx = Tensor::empty({B, G3}, gx_e.dtype());
  for (std::int64_t t = 0; t < n.T; ++t) {
    const Tensor qg = sv.QG.select(0, t);
    gemm(sv.S.select(0, t), w_qh.t(), qg);
    detail::attention_forward<T>(n.att, lengths, qg.data<T>(), keys.data<T>(), v.data<T>(),
                                 values.data<T>(), sv.tanh.select(0, t).data<T>(),
                                 sv.alpha.select(0, t).data<T>(), sv.C.select(0, t).data<T>());
    std::copy_n(gx_e.select(0, t).data<T>(), B * G3, gx.data<T>());
    gemm(sv.C.select(0, t), w_c.t(), gx, 1.0, 1.0);
    for (std::int64_t b = 0; b < B; ++b) {
      const T* x = gx.data<T>() + b * G3;
      T* g = sv.QG.data<T>() + (t * B + b) * n.qg() + A;
      T* a = sv.gates.data<T>() + (t * B + b) * G3;
      const T* h = sv.S.data<T>() + (t * B + b) * H;
      T* h_next = sv.S.data<T>() + ((t + 1) * B + b) * H;
      T* y = Y.data<T>() + (t * B + b) * (H + D);
#pragma GCC ivdep  // the rows read and written never overlap
      for (std::int64_t j = 0; j < 2 * H; ++j) a[j] = detail::sigmoid<T>(x[j] + g[j] + bias[j]);
#pragma GCC ivdep
      for (std::int64_t j = 0; j < H; ++j) {
        const T gh_n = g[2 * H + j] + bias[2 * H + j];
        g[2 * H + j] = gh_n;
        const T nj = detail::tanh<T>(x[2 * H + j] + a[j] * gh_n), z = a[H + j];
        a[2 * H + j] = nj;
        h_next[j] = y[j] = (T(1) - z) * nj + z * h[j];
      }
      std::copy_n(sv.C.data<T>() + (t * B + b) * D, D, y + H);
    }
  }
}

// Gradients of the per-step quantities: DQG [T, B, A + 3H] = [dq_t, dgh_t], DGX [T, B, 3H]; adds
// into dkeys, dvalues and dv_parts; returns dL/ds_0.
template <class T>
Tensor decoder_backward(const DecoderShape& n, const std::vector<std::int64_t>& lengths,
                        const Tensor& w_qh, const Tensor& v, const Tensor& values,
                        const Tensor& w_c, const DecoderSaved& sv, const Tensor& dY,
                        const Tensor& DQG, const Tensor& DGX, const Tensor& dkeys,
                        const Tensor& dvalues, const Tensor& dv_parts) {
  const std::int64_t B = n.att.B, H = n.H, D = n.att.D, A = n.att.A, G3 = 3 * H;
  const GemmPackingScope packing;  // every step multiplies by the same weights: pack them once
  packing.keep(w_qh);
  packing.keep(w_c);
  const DType dt = dY.dtype();
  Tensor ds = zeros({B, H}, dt), ds_prev = Tensor::empty({B, H}, dt),
         dc = Tensor::empty({B, D}, dt);
  for (std::int64_t t = n.T - 1; t >= 0; --t) {
    const Tensor dqg = DQG.select(0, t), dgx_t = DGX.select(0, t);
    for (std::int64_t b = 0; b < B; ++b) {
      const T* dy = dY.data<T>() + (t * B + b) * (H + D);
      const T* a = sv.gates.data<T>() + (t * B + b) * G3;
      const T* g = sv.QG.data<T>() + (t * B + b) * n.qg() + A;
      const T* h = sv.S.data<T>() + (t * B + b) * H;
      const T* d = ds.data<T>() + b * H;
      T* dp = ds_prev.data<T>() + b * H;
      T* dgx = dgx_t.data<T>() + b * G3;
      T* dq = dqg.data<T>() + b * n.qg();
      T* dgh = dq + A;
      std::fill_n(dq, A, T(0));
#pragma GCC ivdep  // the rows read and written never overlap
      for (std::int64_t j = 0; j < H; ++j) {
        const T dhj = d[j] + dy[j], rr = a[j], z = a[H + j], nj = a[2 * H + j];
        const T dn_pre = dhj * (T(1) - z) * (T(1) - nj * nj);
        const T dz_pre = dhj * (h[j] - nj) * z * (T(1) - z);
        const T dr_pre = dn_pre * g[2 * H + j] * rr * (T(1) - rr);
        dp[j] = dhj * z;
        dgx[j] = dgh[j] = dr_pre;
        dgx[H + j] = dgh[H + j] = dz_pre;
        dgx[2 * H + j] = dn_pre;
        dgh[2 * H + j] = dn_pre * rr;
      }
      std::copy_n(dy + H, D, dc.data<T>() + b * D);
    }
    gemm(dgx_t, w_c, dc, 1.0, 1.0);
    detail::attention_backward<T>(n.att, lengths, v.data<T>(), values.data<T>(),
                                  sv.tanh.select(0, t).data<T>(), sv.alpha.select(0, t).data<T>(),
                                  dc.data<T>(), dqg.data<T>(), dkeys.data<T>(), dvalues.data<T>(),
                                  dv_parts.data<T>());
    gemm(dqg, w_qh, ds_prev, 1.0, 1.0);
    std::swap(ds, ds_prev);
  }
  return ds;
}

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
  // w_qh (and w_c when it is not contiguous, as the model's narrow view is) are copies taken
  // here, so the backward uses the weights of the forward pass even if they change in place in
  // between; only values, v and a contiguous w_c are shared and version-checked.
  const Tensor w_qh = cat({w_q.value(), w_hh.value()}, 0);  // [A + 3H, H]: one GEMM per step
  const Tensor xe = gx_e.value().contiguous(), kv = keys.value().contiguous(),
               vv = v.value().contiguous(), hv = values.value().contiguous(),
               wc = w_c.value().contiguous(), bias = b_hh.value().contiguous();
  const DecoderSaved sv{Tensor::empty({T + 1, B, H}, dt),  Tensor::empty({T, B, D}, dt),
                        Tensor::empty({T, B, n.qg()}, dt), Tensor::empty({T, B, 3 * H}, dt),
                        Tensor::empty({T, B, S, A}, dt),   Tensor::empty({T, B, S}, dt)};
  sv.S.select(0, 0).copy_(s0.value());
  Tensor Y = Tensor::empty({T, B, H + D}, dt);
  dispatch_floating(dt, "attention_gru_decoder", [&]<class T_>() {
    decoder_forward<T_>(n, lengths, xe, w_qh, bias, kv, vv, hv, wc, sv, Y);
  });

  auto backward = [n, lengths, w_qh, vv, hv, wc, sv](const Tensor& gy, GradSlots& dx) {
    const std::int64_t T = n.T, B = n.att.B, H = n.H, A = n.att.A;
    const DType dt = gy.dtype();
    const Tensor dY = gy.contiguous();
    Tensor DQG = Tensor::empty({T, B, n.qg()}, dt), DGX = Tensor::empty({T, B, 3 * H}, dt);
    Tensor dkeys = zeros({B, n.att.S, A}, dt), dvalues = zeros({B, n.att.S, n.att.D}, dt),
           dv_parts = zeros({parallel_chunks(B), A}, dt);
    Tensor ds0;
    dispatch_floating(dt, "attention_gru_decoder", [&]<class T_>() {
      ds0 = decoder_backward<T_>(n, lengths, w_qh, vv, hv, wc, sv, dY, DQG, DGX, dkeys, dvalues,
                                 dv_parts);
    });
    const Tensor dqg_rows = detail::step_rows(DQG);
    if (dx.needed(2) || dx.needed(7)) {
      const Tensor dw_qh = matmul(dqg_rows.t(), detail::step_rows(sv.S.narrow(0, 0, T)));
      if (dx.needed(2)) dx[2] += dw_qh.narrow(0, 0, A);
      if (dx.needed(7)) dx[7] += dw_qh.narrow(0, A, 3 * H);
    }
    if (dx.needed(4)) dx[4] += sum(dv_parts, {0});
    if (dx.needed(6)) dx[6] += matmul(detail::step_rows(DGX).t(), detail::step_rows(sv.C));
    if (dx.needed(8)) dx[8] += sum(dqg_rows.narrow(1, A, 3 * H), {0});
    // Moved, not copied: a gradient that reaches a leaf unshared is kept without a clone.
    dx[0] += std::move(DGX);
    dx[1] += std::move(ds0);
    dx[3] += std::move(dkeys);
    dx[5] += std::move(dvalues);
  };
  return record("attention_gru_decoder", Y, {gx_e, s0, w_q, keys, v, values, w_c, w_hh, b_hh},
                backward, {w_qh, vv, hv, wc});
}

}  // namespace seqgrad::nn::functional
