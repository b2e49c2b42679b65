// The additive-attention read's row loops, shared by the one-step node (functional_attention.cpp)
// and the whole teacher-forced decoder (functional_attention_decoder.cpp). Internal to nn/.
// Per row b with L = lengths[b] real source positions j < L:
//   t_bj = tanh(keys_bj + q_b)          [A]   (kept for the backward pass)
//   e_bj = v . t_bj,   alpha_b = softmax_j(e_b),   context_b = sum_j alpha_bj values_bj
// Backward, dc_b being the gradient reaching context_b:
//   dvalues_bj = alpha_bj dc_b,   dalpha_bj = dc_b . values_bj
//   de_bj = alpha_bj (dalpha_bj - sum_k alpha_bk dalpha_bk)       (softmax backward)
//   dpre_bj = de_bj v (1 - t_bj^2):  dkeys_bj = dpre_bj,  dq_b = sum_j dpre_bj,
//   dv = sum_bj de_bj t_bj
// Positions past a row's length cost nothing and get no gradient.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "nn/recurrence.h"
#include "tensor/cpu.h"
#include "tensor/error.h"
#include "tensor/parallel.h"

namespace seqgrad::nn::detail {

struct AttentionShape {
  std::int64_t B, S, A, D;
  std::int64_t q_stride = A;  // distance between rows of q and dq (wider when q is part of a block)
};

inline void check_attention_lengths(const char* op, const std::vector<std::int64_t>& lengths,
                                    const AttentionShape& n) {
  check(static_cast<std::int64_t>(lengths.size()) == n.B, "{}: {} lengths for a batch of {}", op,
        lengths.size(), n.B);
  for (std::size_t b = 0; b < lengths.size(); ++b)
    check(lengths[b] >= 1 && lengths[b] <= n.S,
          "{}: length {} of row {} is outside [1, {}] (a row needs a position to attend to)", op,
          lengths[b], b, n.S);
}

// x . y as 64 bytes of independent partial sums, combined in a fixed order at the end. A single
// running sum is a chain of dependent additions that the compiler may not reorder, so it stays
// scalar and waits on each addition's latency (the two dot products here were ~5% of attention
// training at hidden 512); the partial sums vectorise. The order depends on n only, never on the
// thread count.
template <class T>
[[gnu::always_inline]] inline T dot(const T* x, const T* y, std::int64_t n) {
  constexpr std::int64_t kParts = 64 / sizeof(T);
  T part[kParts] = {};
  std::int64_t i = 0;
  for (; i + kParts <= n; i += kParts)
    for (std::int64_t p = 0; p < kParts; ++p) part[p] += x[i + p] * y[i + p];
  for (std::int64_t p = 0; i < n; ++i, ++p) part[p] += x[i] * y[i];
  T sum = 0;
  for (const T s : part) sum += s;
  return sum;
}

// Calls f(chunk, begin, end) over the rows [0, B): split over seqgrad's threads when there is
// enough work to pay for starting them (tensor/parallel.h starts threads per call, and this runs
// once per decoder step), else serially as chunk 0.
template <class F>
void for_attention_rows(const AttentionShape& n, F&& f) {
  if (n.B * n.S * (n.A + n.D) < (std::int64_t{1} << 17)) {
    f(0, std::int64_t{0}, n.B);
    return;
  }
  parallel_for_chunks(n.B, std::forward<F>(f));
}

// The loops over rows [b0, b1), written once and always inlined: into attention_forward and
// attention_backward below (the baseline build) and into attention_rows_avx512.cpp, which compiles
// its own copy of the float loops for AVX-512 (16 lanes where the baseline has 8). So they call
// only always-inlined functions: an out-of-line call from inside that file's AVX-512 region could
// reach a copy of a library function the linker shares with the rest of the program.
template <class T>
[[gnu::always_inline]] inline void attention_forward_rows(const AttentionShape& n,
                                                          const std::int64_t* lengths, const T* q,
                                                          const T* keys, const T* v,
                                                          const T* values, T* tanh_out, T* alpha,
                                                          T* context, T* scores, std::int64_t b0,
                                                          std::int64_t b1) {
  for (std::int64_t b = b0; b < b1; ++b) {
    const std::int64_t L = lengths[b];
    const T* qb = q + b * n.q_stride;
    T max_score = -std::numeric_limits<T>::infinity();
    for (std::int64_t j = 0; j < L; ++j) {
      const T* k = keys + (b * n.S + j) * n.A;
      T* t = tanh_out + (b * n.S + j) * n.A;
      for (std::int64_t a = 0; a < n.A; ++a) t[a] = detail::tanh<T>(k[a] + qb[a]);
      const T e = dot(v, t, n.A);
      scores[j] = e;
      max_score = max_score < e ? e : max_score;
    }
    T total = 0;
    T* al = alpha + b * n.S;
    for (std::int64_t j = 0; j < L; ++j) {
      al[j] = detail::exp<T>(scores[j] - max_score);
      total += al[j];
    }
    for (std::int64_t j = 0; j < L; ++j) al[j] /= total;
    for (std::int64_t j = L; j < n.S; ++j) al[j] = T(0);
    T* c = context + b * n.D;
    for (std::int64_t d = 0; d < n.D; ++d) c[d] = T(0);
    for (std::int64_t j = 0; j < L; ++j) {
      const T* h = values + (b * n.S + j) * n.D;
      const T w = al[j];
      for (std::int64_t d = 0; d < n.D; ++d) c[d] += w * h[d];
    }
  }
}

template <class T>
[[gnu::always_inline]] inline void attention_backward_rows(const AttentionShape& n,
                                                           const std::int64_t* lengths, const T* v,
                                                           const T* values, const T* tanh_out,
                                                           const T* alpha, const T* dc, T* dq,
                                                           T* dkeys, T* dvalues, T* dv, T* dalpha,
                                                           std::int64_t b0, std::int64_t b1) {
  for (std::int64_t b = b0; b < b1; ++b) {
    const std::int64_t L = lengths[b];
    const T* al = alpha + b * n.S;
    const T* g = dc + b * n.D;
    T weighted = 0;
    for (std::int64_t j = 0; j < L; ++j) {
      const T* h = values + (b * n.S + j) * n.D;
      T* dh = dvalues + (b * n.S + j) * n.D;
      const T dh_dot = dot(g, h, n.D);
      for (std::int64_t d = 0; d < n.D; ++d) dh[d] += al[j] * g[d];
      dalpha[j] = dh_dot;
      weighted += al[j] * dh_dot;
    }
    T* dqb = dq + b * n.q_stride;
    for (std::int64_t j = 0; j < L; ++j) {
      const T de = al[j] * (dalpha[j] - weighted);
      const T* t = tanh_out + (b * n.S + j) * n.A;
      T* dk = dkeys + (b * n.S + j) * n.A;
      for (std::int64_t a = 0; a < n.A; ++a) {
        const T dpre = de * v[a] * (T(1) - t[a] * t[a]);
        dk[a] += dpre;
        dqb[a] += dpre;
        dv[a] += de * t[a];
      }
    }
  }
}

// The float loops compiled for AVX-512 (attention_rows_avx512.cpp); called only when cpu_path()
// is CpuPath::kAvx512.
void attention_forward_rows_avx512(const AttentionShape& n, const std::int64_t* lengths,
                                   const float* q, const float* keys, const float* v,
                                   const float* values, float* tanh_out, float* alpha,
                                   float* context, float* scores, std::int64_t b0, std::int64_t b1);
void attention_backward_rows_avx512(const AttentionShape& n, const std::int64_t* lengths,
                                    const float* v, const float* values, const float* tanh_out,
                                    const float* alpha, const float* dc, float* dq, float* dkeys,
                                    float* dvalues, float* dv, float* dalpha, std::int64_t b0,
                                    std::int64_t b1);

template <class T>
void attention_forward(const AttentionShape& n, const std::vector<std::int64_t>& lengths,
                       const T* q, const T* keys, const T* v, const T* values, T* tanh_out,
                       T* alpha, T* context) {
  const bool avx512 = std::is_same_v<T, float> && cpu_path() == CpuPath::kAvx512;
  for_attention_rows(n, [&](int, std::int64_t b0, std::int64_t b1) {
    // Scratch kept per thread: the calling thread (all of a serial call) allocates it once;
    // workers, started per call (tensor/parallel.h), allocate theirs per call.
    thread_local std::vector<T> scores;
    scores.resize(static_cast<std::size_t>(n.S));
    if constexpr (std::is_same_v<T, float>)
      if (avx512)
        return attention_forward_rows_avx512(n, lengths.data(), q, keys, v, values, tanh_out, alpha,
                                             context, scores.data(), b0, b1);
    attention_forward_rows<T>(n, lengths.data(), q, keys, v, values, tanh_out, alpha, context,
                              scores.data(), b0, b1);
  });
}

// Adds the gradients into dq [B, A] (rows q_stride apart), dkeys [B, S, A], dvalues [B, S, D] and
// dv_parts [chunks, A] (one row per parallel chunk, summed by the caller), so that a decoder loop
// can accumulate over its steps.
template <class T>
void attention_backward(const AttentionShape& n, const std::vector<std::int64_t>& lengths,
                        const T* v, const T* values, const T* tanh_out, const T* alpha, const T* dc,
                        T* dq, T* dkeys, T* dvalues, T* dv_parts) {
  const bool avx512 = std::is_same_v<T, float> && cpu_path() == CpuPath::kAvx512;
  for_attention_rows(n, [&](int chunk, std::int64_t b0, std::int64_t b1) {
    thread_local std::vector<T> dalpha;  // as `scores` above
    dalpha.resize(static_cast<std::size_t>(n.S));
    T* dv = dv_parts + chunk * n.A;
    if constexpr (std::is_same_v<T, float>)
      if (avx512)
        return attention_backward_rows_avx512(n, lengths.data(), v, values, tanh_out, alpha, dc, dq,
                                              dkeys, dvalues, dv, dalpha.data(), b0, b1);
    attention_backward_rows<T>(n, lengths.data(), v, values, tanh_out, alpha, dc, dq, dkeys,
                               dvalues, dv, dalpha.data(), b0, b1);
  });
}

}  // namespace seqgrad::nn::detail
