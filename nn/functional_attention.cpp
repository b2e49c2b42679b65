// Additive (Bahdanau) attention read: one graph node per decoder step, hand-written backward.
// The equations and the row loops are in nn/attention_rows.h.
// Composed from generic ops this is ~10 nodes per step with [B, S, A] temporaries and B tiny
// GEMMs for the weighted sum; here the positions past each row's length cost nothing at all.
#include <utility>

#include "nn/attention_rows.h"
#include "nn/functional.h"

namespace seqgrad::nn::functional {

namespace {

using detail::AttentionShape;

AttentionShape check_attention(const Variable& q, const Variable& keys, const Variable& v,
                               const Variable& values, const std::vector<std::int64_t>& lengths) {
  check(q.dim() == 2 && keys.dim() == 3 && v.dim() == 1 && values.dim() == 3,
        "additive_attention: expected q [B, A], keys [B, S, A], v [A], values [B, S, D], got "
        "q {} keys {} v {} values {}",
        q.shape(), keys.shape(), v.shape(), values.shape());
  const AttentionShape n{keys.size(0), keys.size(1), keys.size(2), values.size(2)};
  check(q.size(0) == n.B && q.size(1) == n.A && v.size(0) == n.A && values.size(0) == n.B &&
            values.size(1) == n.S,
        "additive_attention: shapes do not agree: q {} keys {} v {} values {}", q.shape(),
        keys.shape(), v.shape(), values.shape());
  check(q.dtype() == keys.dtype() && q.dtype() == v.dtype() && q.dtype() == values.dtype() &&
            is_floating(q.dtype()),
        "additive_attention: q, keys, v and values must share one floating dtype, got {} {} {} {}",
        q.dtype(), keys.dtype(), v.dtype(), values.dtype());
  detail::check_attention_lengths("additive_attention", lengths, n);
  return n;
}

}  // namespace

Variable additive_attention(const Variable& q, const Variable& keys, const Variable& v,
                            const Variable& values, const std::vector<std::int64_t>& lengths) {
  const AttentionShape n = check_attention(q, keys, v, values, lengths);
  const DType dt = q.dtype();
  const Tensor qv = q.value().contiguous(), kv = keys.value().contiguous(),
               vv = v.value().contiguous(), hv = values.value().contiguous();
  Tensor tanh_out = Tensor::empty({n.B, n.S, n.A}, dt), alpha = Tensor::empty({n.B, n.S}, dt);
  Tensor context = Tensor::empty({n.B, n.D}, dt);
  dispatch_floating(dt, "additive_attention", [&]<class T>() {
    detail::attention_forward<T>(n, lengths, qv.data<T>(), kv.data<T>(), vv.data<T>(), hv.data<T>(),
                                 tanh_out.data<T>(), alpha.data<T>(), context.data<T>());
  });

  auto backward = [n, lengths, vv, hv, tanh_out, alpha](const Tensor& gy, GradSlots& dx) {
    const Tensor dc = gy.contiguous();
    const DType dt = gy.dtype();
    Tensor dq = zeros({n.B, n.A}, dt), dkeys = zeros({n.B, n.S, n.A}, dt),
           dvalues = zeros({n.B, n.S, n.D}, dt), dv_parts = zeros({parallel_chunks(n.B), n.A}, dt);
    dispatch_floating(dt, "additive_attention", [&]<class T>() {
      detail::attention_backward<T>(n, lengths, vv.data<T>(), hv.data<T>(), tanh_out.data<T>(),
                                    alpha.data<T>(), dc.data<T>(), dq.data<T>(), dkeys.data<T>(),
                                    dvalues.data<T>(), dv_parts.data<T>());
    });
    if (dx.needed(2)) dx[2] += sum(dv_parts, {0});
    dx[0] += std::move(dq);  // moved: an unshared gradient reaching a leaf is kept, not cloned
    dx[1] += std::move(dkeys);
    dx[3] += std::move(dvalues);
  };
  return record("additive_attention", context, {q, keys, v, values}, backward, {vv, hv});
}

Tensor additive_attention_weights(const Tensor& q, const Tensor& keys, const Tensor& v,
                                  const std::vector<std::int64_t>& lengths) {
  // The kernel also forms the weighted sum of the values; one-wide zero values are the cheapest
  // it can read, and leave the weights exactly those of the real read.
  check(keys.dim() == 3, "additive_attention_weights: expected keys [B, S, A], got {}",
        keys.shape());
  const Tensor values = zeros({keys.size(0), keys.size(1), 1}, q.dtype());
  const AttentionShape n =
      check_attention(Variable(q), Variable(keys), Variable(v), Variable(values), lengths);
  const DType dt = q.dtype();
  const Tensor qv = q.contiguous(), kv = keys.contiguous(), vv = v.contiguous();
  Tensor tanh_out = Tensor::empty({n.B, n.S, n.A}, dt), alpha = Tensor::empty({n.B, n.S}, dt);
  Tensor context = Tensor::empty({n.B, n.D}, dt);
  dispatch_floating(dt, "additive_attention_weights", [&]<class T>() {
    detail::attention_forward<T>(n, lengths, qv.data<T>(), kv.data<T>(), vv.data<T>(),
                                 values.data<T>(), tanh_out.data<T>(), alpha.data<T>(),
                                 context.data<T>());
  });
  return alpha;
}

}  // namespace seqgrad::nn::functional
