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
#include <type_traits>
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

// Head h's [T, d] block of row b of x [B, T, H*d] (rows contiguous), read and written in place:
// row i starts at p + i * ld.
template <class T>
struct Block {
  T* p;
  std::int64_t ld;
};
template <class T>
Block<T> head(const Tensor& x, std::int64_t b, std::int64_t h, std::int64_t d) {
  return {x.data<std::remove_const_t<T>>() + b * x.stride(0) + h * d, x.stride(1)};
}

// The blocks' products are small (T up to a few dozen, d = D / H), so a call into BLAS or the
// packed kernel (which would also push the weights out of the decoding's packing table, one
// operand per block) costs more than the arithmetic. Inner loops run over contiguous d.
template <class T>
[[gnu::always_inline]] inline T dot(const T* a, const T* b, std::int64_t n) {
  // Eight partial sums: float addition is not associative, so one sum would not vectorise.
  T acc[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
  T tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

template <class T>
[[gnu::always_inline]] inline void axpy(T alpha, const T* x, T* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// c [m, n] (row stride n) = scale * A B^T for A [m, d], B [n, d]: c_ij = scale * a_i . b_j.
template <class T>
void products_abt(Block<const T> a, Block<const T> b, T* c, std::int64_t m, std::int64_t n,
                  std::int64_t d, T scale) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      c[i * n + j] = scale * dot(a.p + i * a.ld, b.p + j * b.ld, d);
}

// C [m, d] = W B for W [m, n] (row stride n), B [n, d]: c_i = sum_j w_ij b_j (zero weights,
// the masked keys, skipped).
template <class T>
void products_wb(const T* w, Block<const T> b, Block<T> c, std::int64_t m, std::int64_t n,
                 std::int64_t d) {
  for (std::int64_t i = 0; i < m; ++i) {
    T* ci = c.p + i * c.ld;
    std::fill(ci, ci + d, T(0));
    for (std::int64_t j = 0; j < n; ++j)
      if (w[i * n + j] != T(0)) axpy(w[i * n + j], b.p + j * b.ld, ci, d);
  }
}

// C [n, d] = W^T A for W [m, n] (row stride n), A [m, d]: c_j = sum_i w_ij a_i.
template <class T>
void products_wta(const T* w, Block<const T> a, Block<T> c, std::int64_t m, std::int64_t n,
                  std::int64_t d) {
  for (std::int64_t j = 0; j < n; ++j) std::fill(c.p + j * c.ld, c.p + j * c.ld + d, T(0));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      if (w[i * n + j] != T(0)) axpy(w[i * n + j], a.p + i * a.ld, c.p + j * c.ld, d);
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
      dispatch_floating(qv.dtype(), "scaled_dot_product_attention", [&]<class T>() {
        T* s = probs.data<T>() + blk * n.Tq * n.Tk;
        products_abt<T>(head<const T>(qv, b, h, n.dk), head<const T>(kv, b, h, n.dk), s, n.Tq, n.Tk,
                        n.dk, static_cast<T>(scale));
        masked_softmax_rows(s, n, mask, b);
      });
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
      dispatch_floating(dt, "scaled_dot_product_attention", [&]<class T>() {
        products_wb<T>(weights.data<T>() + blk * n.Tq * n.Tk, head<const T>(vv, b, h, n.dv),
                       head<T>(out, b, h, n.dv), n.Tq, n.Tk, n.dv);
      });
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
      dispatch_floating(dt, "scaled_dot_product_attention", [&]<class T>() {
        T* dp = scratch.data<T>() + chunk * n.Tq * n.Tk;
        for (std::int64_t blk = begin; blk < end; ++blk) {
          const std::int64_t b = blk / n.H, h = blk % n.H, block = blk * n.Tq * n.Tk;
          const Block<const T> g = head<const T>(dout, b, h, n.dv);
          products_wta<T>(weights.data<T>() + block, g, head<T>(dv, b, h, n.dv), n.Tq, n.Tk, n.dv);
          products_abt<T>(g, head<const T>(vv, b, h, n.dv), dp, n.Tq, n.Tk, n.dv, T(1));
          if (keep.defined()) {
            const T* kp = keep.data<T>() + block;
            for (std::int64_t i = 0; i < n.Tq * n.Tk; ++i) dp[i] *= kp[i];
          }
          softmax_backward_rows(probs.data<T>() + block, dp, n, static_cast<T>(scale));
          products_wb<T>(dp, head<const T>(kv, b, h, n.dk), head<T>(dq, b, h, n.dk), n.Tq, n.Tk,
                         n.dk);
          products_wta<T>(dp, head<const T>(qv, b, h, n.dk), head<T>(dk, b, h, n.dk), n.Tq, n.Tk,
                          n.dk);
        }
      });
    });
    dx[0] += std::move(dq);
    dx[1] += std::move(dk);
    dx[2] += std::move(dv);
  };
  return record("scaled_dot_product_attention", out, {q, k, v}, backward, {qv, kv, vv});
}

}  // namespace seqgrad::nn::functional
