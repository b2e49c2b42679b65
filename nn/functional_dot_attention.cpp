// Scaled dot-product attention over all heads as one graph node, hand-written backward.
// Per row b and head h (Q, K, V the head's [T, d] column blocks of q, k, v, read in place):
//   forward   S = Q K^T / sqrt(dk),  P = masked softmax of each row of S,  W = dropout(P),
//             O = W V
//   backward  dV = W^T dO,  dW = dO V^T,  dP = dW * keep / (1 - p)  (= dW without dropout),
//             dS = P * (dP - rowsum(P * dP)),  dQ = dS K / sqrt(dk),  dK = dS^T Q / sqrt(dk)
// Masked entries of P are exactly 0, so they pass no gradient. The (b, h) blocks are independent:
// they are split over threads, each block's products computed the same way on any thread count.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "nn/functional.h"
#include "tensor/parallel.h"

namespace seqgrad::nn::functional {

namespace {

struct DotAttentionShape {
  std::int64_t B, Tq, Tk, H, dk, dv;
  // The keys query i of row b may read: [0, visible(b, i)).
  std::int64_t visible(const AttentionMask& m, std::int64_t b, std::int64_t i) const {
    std::int64_t n = m.key_lengths.empty() ? Tk : m.key_lengths[static_cast<std::size_t>(b)];
    return m.causal ? std::min(n, i + 1) : n;
  }
};

DotAttentionShape check_dot_attention(const Tensor& q, const Tensor& k, const Tensor* v,
                                      std::int64_t heads, const AttentionMask& mask) {
  const char* op = "scaled_dot_product_attention";
  check(q.dim() == 3 && k.dim() == 3 && (!v || v->dim() == 3),
        "{}: expected q [B, Tq, H*dk], k [B, Tk, H*dk], v [B, Tk, H*dv], got q {} k {} v {}", op,
        q.shape(), k.shape(), v ? v->shape() : Dims{});
  check(heads >= 1 && q.size(2) % heads == 0 && (!v || v->size(2) % heads == 0),
        "{}: {} heads do not divide the widths of q {} and v {}", op, heads, q.shape(),
        v ? v->shape() : Dims{});
  const DotAttentionShape n{q.size(0), q.size(1),         k.size(1),
                            heads,     q.size(2) / heads, v ? v->size(2) / heads : 0};
  check(k.size(0) == n.B && k.size(2) == q.size(2) &&
            (!v || (v->size(0) == n.B && v->size(1) == n.Tk)),
        "{}: shapes do not agree: q {} k {} v {}", op, q.shape(), k.shape(),
        v ? v->shape() : Dims{});
  check(q.dtype() == k.dtype() && (!v || v->dtype() == q.dtype()) && is_floating(q.dtype()),
        "{}: q, k and v must share one floating dtype, got {} {} {}", op, q.dtype(), k.dtype(),
        v ? v->dtype() : q.dtype());
  check(mask.key_lengths.empty() || static_cast<std::int64_t>(mask.key_lengths.size()) == n.B,
        "{}: {} key lengths for a batch of {}", op, mask.key_lengths.size(), n.B);
  for (std::size_t b = 0; b < mask.key_lengths.size(); ++b)
    check(mask.key_lengths[b] >= 1 && mask.key_lengths[b] <= n.Tk,
          "{}: key length {} of row {} is outside [1, {}] (every query needs a key to read)", op,
          mask.key_lengths[b], b, n.Tk);
  return n;
}

// x itself when its rows are contiguous (a narrow of packed q|k|v is read in place), else a copy.
Tensor rows_contiguous(const Tensor& x) { return x.stride(2) == 1 ? x : x.contiguous(); }

// Head h's [T, d] block of row b of x [B, T, H*d], a view.
Tensor head(const Tensor& x, std::int64_t b, std::int64_t h, std::int64_t d) {
  return x.select(0, b).narrow(1, h * d, d);
}

// Calls f(chunk, begin, end) over the B*H blocks: on seqgrad's threads when there is enough work
// to pay for starting them, else serially (decoding one token at a time, gradcheck).
template <class F>
void for_blocks(const DotAttentionShape& n, F&& f) {
  const std::int64_t blocks = n.B * n.H;
  if (blocks * n.Tq * n.Tk * (n.dk + std::max(n.dv, n.dk)) < (std::int64_t{1} << 16)) {
    f(0, std::int64_t{0}, blocks);
    return;
  }
  parallel_for_chunks(blocks, std::forward<F>(f));
}

// Row i of s [Tq, Tk] becomes the softmax of its first `visible` entries, and 0 past them.
template <class T>
void masked_softmax_rows(T* s, const DotAttentionShape& n, const AttentionMask& mask,
                         std::int64_t b) {
  for (std::int64_t i = 0; i < n.Tq; ++i) {
    T* row = s + i * n.Tk;
    const std::int64_t L = n.visible(mask, b, i);
    T max_score = -std::numeric_limits<T>::infinity();
    for (std::int64_t j = 0; j < L; ++j) max_score = std::max(max_score, row[j]);
    T total = 0;
    for (std::int64_t j = 0; j < L; ++j) total += row[j] = std::exp(row[j] - max_score);
    const T inv = T(1) / total;
    for (std::int64_t j = 0; j < L; ++j) row[j] *= inv;
    std::fill(row + L, row + n.Tk, T(0));
  }
}

// dP (in dp, [Tq, Tk]) becomes dS / sqrt(dk): dS = P * (dP - rowsum(P * dP)).
template <class T>
void softmax_backward_rows(const T* p, T* dp, const DotAttentionShape& n, T scale) {
  for (std::int64_t i = 0; i < n.Tq; ++i) {
    const T* pr = p + i * n.Tk;
    T* dr = dp + i * n.Tk;
    T dot = 0;
    for (std::int64_t j = 0; j < n.Tk; ++j) dot += pr[j] * dr[j];
    for (std::int64_t j = 0; j < n.Tk; ++j) dr[j] = pr[j] * (dr[j] - dot) * scale;
  }
}

// P [B, H, Tq, Tk] for q and k (the forward pass's first half).
Tensor probabilities(const Tensor& qv, const Tensor& kv, const DotAttentionShape& n,
                     const AttentionMask& mask) {
  Tensor probs = Tensor::empty({n.B, n.H, n.Tq, n.Tk}, qv.dtype());
  const double scale = 1.0 / std::sqrt(static_cast<double>(n.dk));
  for_blocks(n, [&](int, std::int64_t begin, std::int64_t end) {
    for (std::int64_t blk = begin; blk < end; ++blk) {
      const std::int64_t b = blk / n.H, h = blk % n.H;
      const Tensor s = probs.select(0, b).select(0, h);
      gemm(head(qv, b, h, n.dk), head(kv, b, h, n.dk).t(), s, scale);
      dispatch_floating(qv.dtype(), "scaled_dot_product_attention",
                        [&]<class T>() { masked_softmax_rows(s.data<T>(), n, mask, b); });
    }
  });
  return probs;
}

}  // namespace

Tensor attention_weights(const Tensor& q, const Tensor& k, std::int64_t heads,
                         const AttentionMask& mask) {
  const DotAttentionShape n = check_dot_attention(q, k, nullptr, heads, mask);
  return probabilities(rows_contiguous(q), rows_contiguous(k), n, mask);
}

Variable scaled_dot_product_attention(const Variable& q, const Variable& k, const Variable& v,
                                      std::int64_t heads, const AttentionMask& mask,
                                      double dropout_p, bool training, Generator* gen) {
  check(dropout_p >= 0.0 && dropout_p < 1.0,
        "scaled_dot_product_attention: dropout must be in [0, 1), got {}", dropout_p);
  const Tensor vvv = v.value();
  const DotAttentionShape n = check_dot_attention(q.value(), k.value(), &vvv, heads, mask);
  const DType dt = q.dtype();
  const Tensor qv = rows_contiguous(q.value()), kv = rows_contiguous(k.value()),
               vv = rows_contiguous(vvv);
  const Tensor probs = probabilities(qv, kv, n, mask);
  // With dropout, W = P * keep / (1 - p); the mask is drawn whole, before the threads split the
  // blocks, so that it does not depend on the thread count.
  Tensor keep, weights = probs;
  if (training && dropout_p > 0.0) {
    keep = lt(rand(probs.shape(), dt, gen), 1.0 - dropout_p).to(dt) * (1.0 / (1.0 - dropout_p));
    weights = probs * keep;
  }
  Tensor out = Tensor::empty({n.B, n.Tq, n.H * n.dv}, dt);
  for_blocks(n, [&](int, std::int64_t begin, std::int64_t end) {
    for (std::int64_t blk = begin; blk < end; ++blk) {
      const std::int64_t b = blk / n.H, h = blk % n.H;
      gemm(weights.select(0, b).select(0, h), head(vv, b, h, n.dv), head(out, b, h, n.dv));
    }
  });

  auto backward = [n, qv, kv, vv, probs, keep, weights](const Tensor& gy, GradSlots& dx) {
    const Tensor dout = gy.contiguous();
    const DType dt = gy.dtype();
    const double scale = 1.0 / std::sqrt(static_cast<double>(n.dk));
    Tensor dq = Tensor::empty(qv.shape(), dt), dk = Tensor::empty(kv.shape(), dt),
           dv = Tensor::empty(vv.shape(), dt);
    const Tensor scratch = Tensor::empty({parallel_chunks(n.B * n.H), n.Tq, n.Tk}, dt);
    for_blocks(n, [&](int chunk, std::int64_t begin, std::int64_t end) {
      const Tensor dp = scratch.select(0, chunk);
      for (std::int64_t blk = begin; blk < end; ++blk) {
        const std::int64_t b = blk / n.H, h = blk % n.H;
        const Tensor p = probs.select(0, b).select(0, h), g = head(dout, b, h, n.dv);
        gemm(weights.select(0, b).select(0, h).t(), g, head(dv, b, h, n.dv));
        gemm(g, head(vv, b, h, n.dv).t(), dp);
        if (keep.defined()) dp.mul_(keep.select(0, b).select(0, h));
        dispatch_floating(dt, "scaled_dot_product_attention", [&]<class T>() {
          softmax_backward_rows(p.data<T>(), dp.data<T>(), n, static_cast<T>(scale));
        });
        gemm(dp, head(kv, b, h, n.dk), head(dq, b, h, n.dk));
        gemm(dp.t(), head(qv, b, h, n.dk), head(dk, b, h, n.dk));
      }
    });
    dx[0] += std::move(dq);
    dx[1] += std::move(dk);
    dx[2] += std::move(dv);
  };
  return record("scaled_dot_product_attention", out, {q, k, v}, backward, {qv, kv, vv});
}

}  // namespace seqgrad::nn::functional
