// The strided loop under every elementwise kernel. N operands share one iteration shape; each has a
// base pointer and strides in bytes (0 along a broadcast dim). Adjacent dims that are laid out
// contiguously for every operand are merged, so a contiguous tensor of any rank becomes one long
// row, and `row(ptrs, strides, n)` is called once per innermost row. With kSplitLongRow, a single
// row long enough to pay for starting threads (a ReLU over a conv activation) is cut into pieces
// run in parallel: only for pure per-element maps that do not throw (map1/map2/map3), never for
// reductions or scatters, whose pieces would write the same element.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "tensor/parallel.h"
#include "tensor/tensor.h"

namespace seqgrad::detail {

template <std::size_t N>
using Ptrs = std::array<char*, N>;
template <std::size_t N>
using Steps = std::array<std::int64_t, N>;

// Strides (in elements) that make `t` look like a tensor of `shape` (NumPy broadcasting):
// 0 along new leading dims and along dims where t has size 1.
Dims broadcast_strides(const Tensor& t, const Dims& shape, const char* op);

template <std::size_t N, bool kSplitLongRow = false, class Row>
void for_each_row(const Dims& shape, Ptrs<N> ptrs, const std::array<Dims, N>& byte_strides,
                  Row&& row) {
  if (shape.numel() == 0) return;
  // Coalesce: drop size-1 dims and merge dim i into i+1 when every operand allows it.
  Dims sh;
  std::array<Dims, N> st;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = sh.size() > 0;
    for (std::size_t k = 0; k < N && merge; ++k)
      merge = st[k].back() == byte_strides[k][d] * shape[d];
    if (merge) {
      sh[sh.size() - 1] *= shape[d];
      for (std::size_t k = 0; k < N; ++k) st[k][st[k].size() - 1] = byte_strides[k][d];
    } else {
      sh.push_back(shape[d]);
      for (std::size_t k = 0; k < N; ++k) st[k].push_back(byte_strides[k][d]);
    }
  }
  if (sh.size() == 0) {  // a single element
    row(ptrs, Steps<N>{}, std::int64_t{1});
    return;
  }
  const int inner = sh.size() - 1;
  Steps<N> inner_steps;
  for (std::size_t k = 0; k < N; ++k) inner_steps[k] = st[k][inner];
  // Elements per thread worth a split: a woken worker answers within microseconds (it spins
  // before it sleeps, tensor/parallel.cpp), and a map over 32K floats takes about 10 us.
  constexpr std::int64_t kParallelGrain = 1 << 15;
  const bool split = kSplitLongRow && intra_op_threads() > 1 && sh.numel() >= 2 * kParallelGrain &&
                     !inside_parallel_body();
  if (split && inner == 0) {
    parallel_for(sh[0], [&](std::int64_t begin, std::int64_t end) {
      Ptrs<N> p = ptrs;
      for (std::size_t k = 0; k < N; ++k) p[k] += inner_steps[k] * begin;
      row(p, inner_steps, end - begin);
    });
    return;
  }
  if (split && inner == 1) {  // rows of a matrix (a broadcast bias, a strided view): split by row
    parallel_for(sh[0], [&](std::int64_t begin, std::int64_t end) {
      Ptrs<N> p = ptrs;
      for (std::size_t k = 0; k < N; ++k) p[k] += st[k][0] * begin;
      for (std::int64_t r = begin; r < end; ++r) {
        row(p, inner_steps, sh[1]);
        for (std::size_t k = 0; k < N; ++k) p[k] += st[k][0];
      }
    });
    return;
  }
  const std::int64_t rows = sh.numel() / sh[inner];
  Dims counter = Dims::filled(inner, 0);
  for (std::int64_t r = 0; r < rows; ++r) {
    row(ptrs, inner_steps, sh[inner]);
    // Advance the odometer over the outer dims.
    for (int d = inner - 1; d >= 0; --d) {
      for (std::size_t k = 0; k < N; ++k) ptrs[k] += st[k][d];
      if (++counter[d] < sh[d]) break;
      for (std::size_t k = 0; k < N; ++k) ptrs[k] -= st[k][d] * sh[d];
      counter[d] = 0;
    }
  }
}

// Byte strides of `t` seen with iteration shape `shape` (broadcasting when needed).
inline Dims byte_strides(const Tensor& t, const Dims& shape, const char* op) {
  Dims s = t.shape() == shape ? t.strides() : broadcast_strides(t, shape, op);
  for (auto& v : s) v *= static_cast<std::int64_t>(itemsize(t.dtype()));
  return s;
}

// out[i] = f(a[i]): out has `out.shape()`, a broadcasts to it.
template <class TOut, class TA, class F>
void map1(const Tensor& out, const Tensor& a, const char* op, F f) {
  const Dims& shape = out.shape();
  for_each_row<2, true>(shape,
                        {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data())},
                        {byte_strides(out, shape, op), byte_strides(a, shape, op)},
                        [&](Ptrs<2> p, Steps<2> s, std::int64_t n) {
                          auto* o = reinterpret_cast<TOut*>(p[0]);
                          auto* x = reinterpret_cast<const TA*>(p[1]);
                          if (s[0] == sizeof(TOut) && s[1] == sizeof(TA)) {
                            for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
                          } else {
                            const std::int64_t so = s[0] / sizeof(TOut), sx = s[1] / sizeof(TA);
                            for (std::int64_t i = 0; i < n; ++i) o[i * so] = f(x[i * sx]);
                          }
                        });
}

// out[i] = f(a[i], b[i]) with a and b broadcast to out's shape.
template <class TOut, class TA, class TB, class F>
void map2(const Tensor& out, const Tensor& a, const Tensor& b, const char* op, F f) {
  const Dims& shape = out.shape();
  for_each_row<3, true>(
      shape,
      {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data()),
       static_cast<char*>(b.raw_data())},
      {byte_strides(out, shape, op), byte_strides(a, shape, op), byte_strides(b, shape, op)},
      [&](Ptrs<3> p, Steps<3> s, std::int64_t n) {
        auto* o = reinterpret_cast<TOut*>(p[0]);
        auto* x = reinterpret_cast<const TA*>(p[1]);
        auto* y = reinterpret_cast<const TB*>(p[2]);
        const std::int64_t so = s[0] / sizeof(TOut), sx = s[1] / sizeof(TA), sy = s[2] / sizeof(TB);
        if (so == 1 && sx == 1 && sy == 1) {
          for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
        } else if (so == 1 && sx == 1 && sy == 0) {
          const TB yv = *y;
          for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
        } else if (so == 1 && sx == 0 && sy == 1) {
          const TA xv = *x;
          for (std::int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
        } else {
          for (std::int64_t i = 0; i < n; ++i) o[i * so] = f(x[i * sx], y[i * sy]);
        }
      });
}

// out[i] = f(a[i], b[i], c[i]) with a, b, c broadcast to out's shape.
template <class TOut, class TA, class TB, class TC, class F>
void map3(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, const char* op,
          F f) {
  const Dims& shape = out.shape();
  for_each_row<4, true>(shape,
                        {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data()),
                         static_cast<char*>(b.raw_data()), static_cast<char*>(c.raw_data())},
                        {byte_strides(out, shape, op), byte_strides(a, shape, op),
                         byte_strides(b, shape, op), byte_strides(c, shape, op)},
                        [&](Ptrs<4> p, Steps<4> s, std::int64_t n) {
                          auto* o = reinterpret_cast<TOut*>(p[0]);
                          auto* x = reinterpret_cast<const TA*>(p[1]);
                          auto* y = reinterpret_cast<const TB*>(p[2]);
                          auto* z = reinterpret_cast<const TC*>(p[3]);
                          const std::int64_t so = s[0] / sizeof(TOut), sx = s[1] / sizeof(TA),
                                             sy = s[2] / sizeof(TB), sz = s[3] / sizeof(TC);
                          for (std::int64_t i = 0; i < n; ++i)
                            o[i * so] = f(x[i * sx], y[i * sy], z[i * sz]);
                        });
}

}  // namespace seqgrad::detail
