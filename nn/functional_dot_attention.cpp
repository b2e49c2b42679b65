// Scaled dot-product attention over all heads as one graph node, hand-written backward.
// Per row b and head h (Q, K, V the head's [T, d] column blocks of q, k, v, read in place):
//   forward   S = Q K^T / sqrt(dk),  P = masked softmax of each row of S,  W = dropout(P),
//             O = W V
//   backward  dV = W^T dO,  dW = dO V^T,  dP = dW * keep / (1 - p)  (= dW without dropout),
//             dS = P * (dP - rowsum(P * dP)),  dQ = dS K / sqrt(dk),  dK = dS^T Q / sqrt(dk)
// Masked entries of P are exactly 0, so they pass no gradient. The (b, h) blocks are independent:
// they are split over threads, each block's products computed the same way on any thread count.
// Inputs are padded [B, T, H*d] or packed rows [N, H*d] (the rows' sequences one after another,
// no padding: a Transformer's position-wise layers then do no work on padding); a block is
// [nq_b, nk_b] either way, P stored block after block.
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
  std::int64_t B = 0, H = 0, dk = 0, dv = 0;
  bool packed = false, causal = false;
  // Per row b: its queries and keys (the block's size), the first query and key row (packed
  // inputs), the keys it may read (the rest are padding) and where block (b, 0) starts in P.
  std::vector<std::int64_t> nq, nk, q0, k0, key_len, p0;
  std::int64_t total = 0, largest = 0;  // entries of P; of its largest block

  // The keys query i of row b may read: [0, visible(b, i)).
  std::int64_t visible(std::int64_t b, std::int64_t i) const {
    const std::int64_t n = key_len[static_cast<std::size_t>(b)];
    return causal ? std::min(n, i + 1) : n;
  }
  std::int64_t block_offset(std::int64_t b, std::int64_t h) const {
    const auto i = static_cast<std::size_t>(b);
    return p0[i] + h * nq[i] * nk[i];
  }
};

DotAttentionShape check_dot_attention(const Tensor& q, const Tensor& k, const Tensor* v,
                                      std::int64_t heads, const AttentionMask& mask) {
  const char* op = "scaled_dot_product_attention";
  const bool packed = q.dim() == 2;
  const std::int64_t r = packed ? 2 : 3;  // the rank all three must have
  check((q.dim() == 2 || q.dim() == 3) && k.dim() == r && (!v || v->dim() == r),
        "{}: expected q [B, Tq, H*dk], k [B, Tk, H*dk], v [B, Tk, H*dv] (or packed rows: q "
        "[Nq, H*dk], k [Nk, H*dk], v [Nk, H*dv]), got q {} k {} v {}",
        op, q.shape(), k.shape(), v ? v->shape() : Dims{});
  const std::int64_t width = q.size(-1);
  check(heads >= 1 && width % heads == 0 && (!v || v->size(-1) % heads == 0),
        "{}: {} heads do not divide the widths of q {} and v {}", op, heads, q.shape(),
        v ? v->shape() : Dims{});
  check(k.size(-1) == width && (!v || v->size(-2) == k.size(-2)) &&
            (packed || (k.size(0) == q.size(0) && (!v || v->size(0) == q.size(0)))),
        "{}: shapes do not agree: q {} k {} v {}", op, q.shape(), k.shape(),
        v ? v->shape() : Dims{});
  check(q.dtype() == k.dtype() && (!v || v->dtype() == q.dtype()) && is_floating(q.dtype()),
        "{}: q, k and v must share one floating dtype, got {} {} {}", op, q.dtype(), k.dtype(),
        v ? v->dtype() : q.dtype());
  DotAttentionShape n;
  n.H = heads;
  n.dk = width / heads;
  n.dv = v ? v->size(-1) / heads : 0;
  n.packed = packed;
  n.causal = mask.causal;
  if (packed) {
    check(!mask.query_lengths.empty() && mask.query_lengths.size() == mask.key_lengths.size(),
          "{}: packed rows q {} need query_lengths and key_lengths, one per sequence (got {} and "
          "{})",
          op, q.shape(), mask.query_lengths.size(), mask.key_lengths.size());
    n.B = static_cast<std::int64_t>(mask.query_lengths.size());
  } else {
    check(mask.query_lengths.empty(),
          "{}: query_lengths are for packed rows, but q {} is padded [B, Tq, H*dk]", op, q.shape());
    n.B = q.size(0);
    check(mask.key_lengths.empty() || static_cast<std::int64_t>(mask.key_lengths.size()) == n.B,
          "{}: {} key lengths for a batch of {}", op, mask.key_lengths.size(), n.B);
  }
  std::int64_t queries = 0, keys = 0;
  for (std::int64_t b = 0; b < n.B; ++b) {
    const auto i = static_cast<std::size_t>(b);
    const std::int64_t Tq = packed ? mask.query_lengths[i] : q.size(1);
    const std::int64_t Tk = packed ? mask.key_lengths[i] : k.size(1);
    const std::int64_t L = mask.key_lengths.empty() ? Tk : mask.key_lengths[i];
    check(Tq >= 0 && L >= 1 && L <= Tk,
          "{}: key length {} of row {} is outside [1, {}] (every query needs a key to read)", op, L,
          b, Tk);
    n.nq.push_back(Tq);
    n.nk.push_back(Tk);
    n.q0.push_back(packed ? queries : b);
    n.k0.push_back(packed ? keys : b);
    n.key_len.push_back(L);
    n.p0.push_back(n.total);
    queries += Tq;
    keys += Tk;
    n.total += heads * Tq * Tk;
    n.largest = std::max(n.largest, Tq * Tk);
  }
  check(!packed || (queries == q.size(0) && keys == k.size(0)),
        "{}: the query lengths add up to {} and the key lengths to {}, but q {} and k {} have {} "
        "and {} rows",
        op, queries, keys, q.shape(), k.shape(), q.size(0), k.size(0));
  return n;
}

// x itself when its rows are contiguous (a narrow of packed q|k|v is read in place), else a copy.
Tensor rows_contiguous(const Tensor& x) { return x.stride(-1) == 1 ? x : x.contiguous(); }

// Head h's [T, d] block of row b of x (padded [B, T, H*d] or packed rows [N, H*d] whose row b
// starts at `first`; rows contiguous), read and written in place: row i starts at p + i * ld.
template <class T>
struct Block {
  T* p;
  std::int64_t ld;
};
template <class T>
Block<T> head(const Tensor& x, const DotAttentionShape& n, std::int64_t first, std::int64_t b,
              std::int64_t h, std::int64_t d) {
  T* base = x.data<std::remove_const_t<T>>() + h * d;
  if (n.packed) return {base + first * x.stride(0), x.stride(0)};
  return {base + b * x.stride(0), x.stride(1)};
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
  if (n.total * (n.dk + std::max(n.dv, n.dk)) < (std::int64_t{1} << 16)) {
    f(0, std::int64_t{0}, blocks);
    return;
  }
  parallel_for_chunks(blocks, std::forward<F>(f));
}

// Row i of block b's scores s [nq, nk] becomes the softmax of its first `visible` entries, and 0
// past them.
template <class T>
void masked_softmax_rows(T* s, const DotAttentionShape& n, std::int64_t b) {
  const std::int64_t Tq = n.nq[static_cast<std::size_t>(b)], Tk = n.nk[static_cast<std::size_t>(b)];
  for (std::int64_t i = 0; i < Tq; ++i) {
    T* row = s + i * Tk;
    const std::int64_t L = n.visible(b, i);
    T max_score = -std::numeric_limits<T>::infinity();
    for (std::int64_t j = 0; j < L; ++j) max_score = std::max(max_score, row[j]);
    T total = 0;
    for (std::int64_t j = 0; j < L; ++j) total += row[j] = std::exp(row[j] - max_score);
    const T inv = T(1) / total;
    for (std::int64_t j = 0; j < L; ++j) row[j] *= inv;
    std::fill(row + L, row + Tk, T(0));
  }
}

// dP (in dp, [Tq, Tk]) becomes dS / sqrt(dk): dS = P * (dP - rowsum(P * dP)).
template <class T>
void softmax_backward_rows(const T* p, T* dp, std::int64_t Tq, std::int64_t Tk, T scale) {
  for (std::int64_t i = 0; i < Tq; ++i) {
    const T* pr = p + i * Tk;
    T* dr = dp + i * Tk;
    T dot = 0;
    for (std::int64_t j = 0; j < Tk; ++j) dot += pr[j] * dr[j];
    for (std::int64_t j = 0; j < Tk; ++j) dr[j] = pr[j] * (dr[j] - dot) * scale;
  }
}

// P for q and k (the forward pass's first half): [B, H, Tq, Tk] for padded inputs, the blocks one
// after another [total] for packed rows.
Tensor probabilities(const Tensor& qv, const Tensor& kv, const DotAttentionShape& n) {
  Tensor probs =
      n.packed ? Tensor::empty({n.total}, qv.dtype())
               : Tensor::empty({n.B, n.H, n.nq.empty() ? 0 : n.nq[0], n.nk.empty() ? 0 : n.nk[0]},
                               qv.dtype());
  const double scale = 1.0 / std::sqrt(static_cast<double>(n.dk));
  for_blocks(n, [&](int, std::int64_t begin, std::int64_t end) {
    for (std::int64_t blk = begin; blk < end; ++blk) {
      const std::int64_t b = blk / n.H, h = blk % n.H;
      const auto i = static_cast<std::size_t>(b);
      dispatch_floating(qv.dtype(), "scaled_dot_product_attention", [&]<class T>() {
        T* s = probs.data<T>() + n.block_offset(b, h);
        products_abt<T>(head<const T>(qv, n, n.q0[i], b, h, n.dk),
                        head<const T>(kv, n, n.k0[i], b, h, n.dk), s, n.nq[i], n.nk[i], n.dk,
                        static_cast<T>(scale));
        masked_softmax_rows(s, n, b);
      });
    }
  });
  return probs;
}

}  // namespace

Tensor attention_weights(const Tensor& q, const Tensor& k, std::int64_t heads,
                         const AttentionMask& mask) {
  const DotAttentionShape n = check_dot_attention(q, k, nullptr, heads, mask);
  return probabilities(rows_contiguous(q), rows_contiguous(k), n);
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
  const Tensor probs = probabilities(qv, kv, n);
  // With dropout, W = P * keep / (1 - p); the mask is drawn whole, before the threads split the
  // blocks (dropout_mask is the same at any thread count).
  Tensor keep, weights = probs;
  if (training && dropout_p > 0.0) {
    keep = dropout_mask(probs.shape(), dropout_p, dt, gen);
    weights = probs * keep;
  }
  Dims out_shape = qv.shape();
  out_shape[static_cast<int>(out_shape.size()) - 1] = n.H * n.dv;
  Tensor out = Tensor::empty(out_shape, dt);
  for_blocks(n, [&](int, std::int64_t begin, std::int64_t end) {
    for (std::int64_t blk = begin; blk < end; ++blk) {
      const std::int64_t b = blk / n.H, h = blk % n.H;
      const auto i = static_cast<std::size_t>(b);
      dispatch_floating(dt, "scaled_dot_product_attention", [&]<class T>() {
        products_wb<T>(weights.data<T>() + n.block_offset(b, h),
                       head<const T>(vv, n, n.k0[i], b, h, n.dv),
                       head<T>(out, n, n.q0[i], b, h, n.dv), n.nq[i], n.nk[i], n.dv);
      });
    }
  });

  auto backward = [n, qv, kv, vv, probs, keep, weights](const Tensor& gy, GradSlots& dx) {
    const Tensor dout = gy.contiguous();
    const DType dt = gy.dtype();
    const double scale = 1.0 / std::sqrt(static_cast<double>(n.dk));
    Tensor dq = Tensor::empty(qv.shape(), dt), dk = Tensor::empty(kv.shape(), dt),
           dv = Tensor::empty(vv.shape(), dt);
    const Tensor scratch = Tensor::empty({parallel_chunks(n.B * n.H), n.largest}, dt);
    for_blocks(n, [&](int chunk, std::int64_t begin, std::int64_t end) {
      dispatch_floating(dt, "scaled_dot_product_attention", [&]<class T>() {
        T* dp = scratch.data<T>() + chunk * n.largest;
        for (std::int64_t blk = begin; blk < end; ++blk) {
          const std::int64_t b = blk / n.H, h = blk % n.H, block = n.block_offset(b, h);
          const auto i = static_cast<std::size_t>(b);
          const std::int64_t Tq = n.nq[i], Tk = n.nk[i];
          const Block<const T> g = head<const T>(dout, n, n.q0[i], b, h, n.dv);
          products_wta<T>(weights.data<T>() + block, g, head<T>(dv, n, n.k0[i], b, h, n.dv), Tq, Tk,
                          n.dv);
          products_abt<T>(g, head<const T>(vv, n, n.k0[i], b, h, n.dv), dp, Tq, Tk, n.dv, T(1));
          if (keep.defined()) {
            const T* kp = keep.data<T>() + block;
            for (std::int64_t e = 0; e < Tq * Tk; ++e) dp[e] *= kp[e];
          }
          softmax_backward_rows(probs.data<T>() + block, dp, Tq, Tk, static_cast<T>(scale));
          products_wb<T>(dp, head<const T>(kv, n, n.k0[i], b, h, n.dk),
                         head<T>(dq, n, n.q0[i], b, h, n.dk), Tq, Tk, n.dk);
          products_wta<T>(dp, head<const T>(qv, n, n.q0[i], b, h, n.dk),
                          head<T>(dk, n, n.k0[i], b, h, n.dk), Tq, Tk, n.dk);
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
