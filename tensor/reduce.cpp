#include "tensor/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "tensor/creation.h"
#include "tensor/elementwise.h"
#include "tensor/iterate.h"
#include "tensor/parallel.h"

namespace seqgrad {

Dims reduced_shape(const Dims& shape, const Dims& dims, bool keepdim, const char* op,
                   Dims* normalized) {
  std::array<bool, kMaxDims> reduce{};
  if (dims.empty()) {
    reduce.fill(true);
  } else {
    for (auto d : dims) {
      const int nd = normalize_dim(d, shape.size(), op);
      check(!reduce[nd], "{}: dim {} appears more than once in {}", op, nd, dims);
      reduce[nd] = true;
    }
  }
  Dims out, norm;
  for (int d = 0; d < shape.size(); ++d) {
    if (reduce[d]) {
      norm.push_back(d);
      if (keepdim) out.push_back(1);
    } else {
      out.push_back(shape[d]);
    }
  }
  if (normalized) *normalized = norm;
  return out;
}

namespace {

// Folds every element of x into `out` (shape keepdim-reduced) with acc = f(acc, v): the output is
// seen through stride-0 dims as if it had x's shape, so one strided loop does any set of dims.
template <class T, class F>
void fold_into(const Tensor& out_keepdim, const Tensor& x, const char* op, F f) {
  Dims strides = detail::broadcast_strides(out_keepdim, x.shape(), op);
  for (auto& s : strides) s *= sizeof(T);
  detail::for_each_row<2>(
      x.shape(), {static_cast<char*>(out_keepdim.raw_data()), static_cast<char*>(x.raw_data())},
      {strides, detail::byte_strides(x, x.shape(), op)},
      [&](detail::Ptrs<2> p, detail::Steps<2> s, std::int64_t n) {
        T* o = reinterpret_cast<T*>(p[0]);
        if (s[0] == 0) {  // reducing along the row: a register accumulator, float64 for float32
          using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;
          Acc acc = *o;
          for (std::int64_t i = 0; i < n; ++i)
            acc = f(acc, static_cast<Acc>(*reinterpret_cast<const T*>(p[1] + i * s[1])));
          *o = static_cast<T>(acc);
        } else {
          for (std::int64_t i = 0; i < n; ++i)
            o[i * s[0] / static_cast<std::int64_t>(sizeof(T))] =
                f(o[i * s[0] / static_cast<std::int64_t>(sizeof(T))],
                  *reinterpret_cast<const T*>(p[1] + i * s[1]));
        }
      });
}

template <class F>
Tensor reduce(const Tensor& x, const Dims& dims, bool keepdim, const char* op, double init,
              bool needs_elements, F f) {
  check_defined(x, op);
  const Dims keep = reduced_shape(x.shape(), dims, true, op);
  if (needs_elements)
    check(x.numel() > 0, "{}: cannot reduce an empty tensor of shape {}", op, x.shape());
  Tensor out = Tensor::empty(keep, x.dtype());
  dispatch_numeric(x.dtype(), op, [&]<class T>() {
    // amax/amin start from -inf/+inf, which int64 cannot hold (the cast is undefined and gave
    // INT64_MIN for both): integers start from the type's extremes instead.
    T start = T(0);
    if constexpr (std::is_integral_v<T>) {
      if (std::isinf(init))
        start = init > 0 ? std::numeric_limits<T>::max() : std::numeric_limits<T>::lowest();
      else
        start = static_cast<T>(init);
    } else {
      start = static_cast<T>(init);
    }
    std::fill_n(out.data<T>(), out.numel(), start);
    fold_into<T>(out, x, op, f);
  });
  return keepdim ? out : out.view(reduced_shape(x.shape(), dims, false, op));
}

}  // namespace

namespace {

// The leading dims of a contiguous float tensor, summed: out[j] = sum_i x[i][j] over a [rows, cols]
// view. Bias gradients take this shape ([T*B, 3H] -> [3H]); the generic strided fold walks it
// column by column, this walks rows and lets the compiler vectorise across j, accumulating in
// float64 like the fold does. Columns go in tiles whose accumulators stay in L1 (and on the
// stack), and tiles are split between threads: each column is still summed row by row, so the
// result does not depend on the thread count.
template <class T>
void sum_leading_rows(const T* x, std::int64_t rows, std::int64_t cols, T* out) {
  constexpr std::int64_t kTile = 128;
  const auto tiles = [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t t = first; t < last; ++t) {
      const std::int64_t j0 = t * kTile, n = std::min(kTile, cols - j0);
      double acc[kTile] = {};
      for (std::int64_t i = 0; i < rows; ++i) {
        const T* row = x + i * cols + j0;
        for (std::int64_t j = 0; j < n; ++j) acc[j] += row[j];
      }
      for (std::int64_t j = 0; j < n; ++j) out[j0 + j] = static_cast<T>(acc[j]);
    }
  };
  const std::int64_t n_tiles = (cols + kTile - 1) / kTile;
  if (rows * cols >= (std::int64_t{1} << 16) && !detail::inside_parallel_body())
    parallel_for(n_tiles, tiles);
  else
    tiles(0, n_tiles);
}

// How many leading dims `dims` names when it is exactly {0, .., k-1} with 0 < k < x.dim(); else 0.
int leading_dims(const Tensor& x, const Dims& dims) {
  if (dims.size() == 0 || dims.size() >= x.dim()) return 0;
  std::uint32_t seen = 0;
  for (const std::int64_t d : dims) {
    const std::int64_t n = d < 0 ? d + x.dim() : d;
    if (n < 0 || n >= dims.size()) return 0;
    seen |= 1u << n;
  }
  return seen == (1u << dims.size()) - 1 ? dims.size() : 0;
}

}  // namespace

Tensor sum(const Tensor& x, const Dims& dims, bool keepdim) {
  if (x.defined() && x.dtype() == kBool) return sum(x.to(kInt64), dims, keepdim);
  if (const int k =
          x.defined() && is_floating(x.dtype()) && x.is_contiguous() ? leading_dims(x, dims) : 0) {
    std::int64_t rows = 1;
    for (int d = 0; d < k; ++d) rows *= x.size(d);
    Dims out_shape;
    for (int d = 0; d < x.dim(); ++d)
      if (d >= k)
        out_shape.push_back(x.size(d));
      else if (keepdim)
        out_shape.push_back(1);
    Tensor out = Tensor::empty(out_shape, x.dtype());
    dispatch_floating(x.dtype(), "sum", [&]<class T>() {
      // Columns from the output, not x.numel() / rows: with zero rows that quotient gave zero
      // columns and left the output uninitialised (found by the sanitizer build's malloc fill).
      sum_leading_rows(x.data<T>(), rows, out.numel(), out.data<T>());
    });
    return out;
  }
  return reduce(x, dims, keepdim, "sum", 0.0, false, [](auto a, auto b) { return a + b; });
}

Tensor mean(const Tensor& x, const Dims& dims, bool keepdim) {
  check_defined(x, "mean");
  check(is_floating(x.dtype()), "mean: expected a floating dtype, got {}", x.dtype());
  const Dims keep = reduced_shape(x.shape(), dims, true, "mean");
  const std::int64_t count = keep.numel() == 0 ? 0 : x.numel() / keep.numel();
  return sum(x, dims, keepdim) / static_cast<double>(count);
}

Tensor amax(const Tensor& x, const Dims& dims, bool keepdim) {
  return reduce(x, dims, keepdim, "amax", -std::numeric_limits<double>::infinity(), true,
                [](auto a, auto b) { return b != b || b > a ? b : a; });
}
Tensor amin(const Tensor& x, const Dims& dims, bool keepdim) {
  return reduce(x, dims, keepdim, "amin", std::numeric_limits<double>::infinity(), true,
                [](auto a, auto b) { return b != b || b < a ? b : a; });
}

Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim) {
  check_defined(x, "logsumexp");
  check(is_floating(x.dtype()), "logsumexp: expected a floating dtype, got {}", x.dtype());
  // Checks the dims here so that a bad one is reported as logsumexp's, not amax's.
  const Dims out_shape = reduced_shape(x.shape(), dims, false, "logsumexp");
  Tensor m = amax(x, dims, true);
  // An all -inf slice would give inf - inf = NaN; shifting by 0 there gives log(0) = -inf.
  Tensor shift = where(eq(abs(m), std::numeric_limits<double>::infinity()), zeros_like(m), m);
  Tensor out = log(sum(exp(x - shift), dims, true)) + shift;
  return keepdim ? out : out.view(out_shape);
}

// ----------------------------------------------------------------------------------------------
// Along one dim: every 1-D lane of x along `dim` is handed to lane(in, in_stride, out, out_stride,
// n).

namespace {

template <class TIn, class TOut, class Lane>
void for_each_lane(const Tensor& x, int dim, const Tensor& out, const char* op, Lane lane) {
  Dims outer = x.shape();
  const std::int64_t n = outer[dim];
  outer[dim] = 1;
  Dims xs = x.strides(), os = out.strides();
  xs[dim] = 0;
  os[dim] = 0;
  for (auto& s : xs) s *= sizeof(TIn);
  for (auto& s : os) s *= sizeof(TOut);
  (void)op;
  const std::int64_t x_step = x.strides()[dim], o_step = out.strides()[dim];
  detail::for_each_row<2>(outer,
                          {static_cast<char*>(x.raw_data()), static_cast<char*>(out.raw_data())},
                          {xs, os}, [&](detail::Ptrs<2> p, detail::Steps<2> s, std::int64_t rows) {
                            for (std::int64_t r = 0; r < rows; ++r)
                              lane(reinterpret_cast<const TIn*>(p[0] + r * s[0]), x_step,
                                   reinterpret_cast<TOut*>(p[1] + r * s[1]), o_step, n);
                          });
}

// Index of the largest (kMax) or smallest of n values `stride` apart: the first on ties, and the
// first NaN wins outright, as in PyTorch. The one rule for every path of max/min/argmax/argmin.
template <bool kMax, class T>
std::int64_t best_in_lane(const T* in, std::int64_t stride, std::int64_t n) {
  std::int64_t best = 0;
  T bv = in[0];
  for (std::int64_t i = 1; i < n && bv == bv; ++i) {
    const T v = in[i * stride];
    if (v != v || (kMax ? v > bv : v < bv)) {
      bv = v;
      best = i;
    }
  }
  return best;
}

template <bool kMax>
std::pair<Tensor, Tensor> extreme(const Tensor& x, std::int64_t dim_, bool keepdim,
                                  const char* op) {
  check_defined(x, op);
  const int dim = normalize_dim(dim_, x.dim(), op);
  Tensor xv = x.dim() == 0 ? x.view({1}) : x;
  check(xv.size(dim) > 0, "{}: cannot reduce dim {} of size 0 (shape {})", op, dim, x.shape());
  Dims keep = xv.shape();
  keep[dim] = 1;
  Tensor values = Tensor::empty(keep, x.dtype());
  Tensor indices = Tensor::empty(keep, kInt64);
  dispatch_numeric(x.dtype(), op, [&]<class T>() {
    if (xv.is_contiguous() && dim == xv.dim() - 1) {
      // Lanes along contiguous rows (a maxout's pairs, a greedy decoder's argmax over the
      // vocabulary): one pass, without the general path's call per lane.
      const std::int64_t n = xv.size(dim), lanes = xv.numel() / n;
      const T* in = xv.data<T>();
      T* vo = values.data<T>();
      std::int64_t* io = indices.data<std::int64_t>();
      for (std::int64_t l = 0; l < lanes; ++l, in += n) {
        io[l] = best_in_lane<kMax>(in, 1, n);
        vo[l] = in[io[l]];
      }
      return;
    }
    // Two passes over the lanes (values, then indices) keep each lane function trivial.
    for_each_lane<T, std::int64_t>(xv, dim, indices, op,
                                   [](const T* in, std::int64_t is, std::int64_t* out, std::int64_t,
                                      std::int64_t n) { *out = best_in_lane<kMax>(in, is, n); });
    for_each_lane<T, T>(xv, dim, values, op,
                        [](const T* in, std::int64_t is, T* out, std::int64_t, std::int64_t n) {
                          *out = in[best_in_lane<kMax>(in, is, n) * is];
                        });
  });
  if (!keepdim || x.dim() == 0) {
    const Dims shape = reduced_shape(x.shape(), {dim}, keepdim && x.dim() > 0, op);
    values = values.view(shape);
    indices = indices.view(shape);
  }
  return {values, indices};
}

}  // namespace

std::pair<Tensor, Tensor> max(const Tensor& x, std::int64_t dim, bool keepdim) {
  return extreme<true>(x, dim, keepdim, "max");
}
std::pair<Tensor, Tensor> min(const Tensor& x, std::int64_t dim, bool keepdim) {
  return extreme<false>(x, dim, keepdim, "min");
}
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim) {
  return extreme<true>(x, dim, keepdim, "argmax").second;
}
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim) {
  return extreme<false>(x, dim, keepdim, "argmin").second;
}

namespace {
template <bool kLog>
Tensor softmax_impl(const Tensor& x, std::int64_t dim_, const char* op) {
  check_defined(x, op);
  const int dim = normalize_dim(dim_, x.dim(), op);
  Tensor xv = x.dim() == 0 ? x.view({1}) : x;
  Tensor out = Tensor::empty(xv.shape(), x.dtype());
  dispatch_floating(x.dtype(), op, [&]<class T>() {
    for_each_lane<T, T>(xv, dim, out, op,
                        [](const T* in, std::int64_t is, T* o, std::int64_t os, std::int64_t n) {
                          if (n == 0) return;
                          T m = in[0];
                          for (std::int64_t i = 1; i < n; ++i) m = std::max(m, in[i * is]);
                          if (std::isinf(m)) m = m > 0 ? m : T(0);
                          double total = 0;
                          for (std::int64_t i = 0; i < n; ++i) {
                            const T e = std::exp(in[i * is] - m);
                            total += e;
                            if constexpr (!kLog) o[i * os] = e;
                          }
                          if constexpr (kLog) {
                            // (x - m) - log(total), not x - (m + log(total)): the sum m + log
                            // would round to the (coarse) spacing of floats near m.
                            const T log_total = static_cast<T>(std::log(total));
                            for (std::int64_t i = 0; i < n; ++i)
                              o[i * os] = (in[i * is] - m) - log_total;
                          } else {
                            const T inv = static_cast<T>(1.0 / total);
                            for (std::int64_t i = 0; i < n; ++i) o[i * os] *= inv;
                          }
                        });
  });
  return x.dim() == 0 ? out.view({}) : out;
}
}  // namespace

Tensor softmax(const Tensor& x, std::int64_t dim) { return softmax_impl<false>(x, dim, "softmax"); }
Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  return softmax_impl<true>(x, dim, "log_softmax");
}

}  // namespace seqgrad
