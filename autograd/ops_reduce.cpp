// Reductions and normalisations with their backward rules, written generically as in
// ops_elementwise.cpp. A reduction's gradient is gy broadcast back over the reduced dims:
// `expand_back` re-inserts them (as size 1) and expands to the input's shape, without copying.
#include "autograd/functions.h"
#include "autograd/node.h"

namespace seqgrad {

namespace {
template <class G>
G expand_back(const G& gy, const Dims& in_shape, const Dims& dims) {
  return gy.reshape(reduced_shape(in_shape, dims, /*keepdim=*/true, "backward")).expand(in_shape);
}
}  // namespace

// y = sum of x over dims;  dx = gy broadcast over those dims
Variable sum(const Variable& x, const Dims& dims, bool keepdim) {
  const Dims in = x.shape();
  return record("sum", sum(x.value(), dims, keepdim), {x},
                [in, dims](const auto& gy, auto& dx) { dx[0] += expand_back(gy, in, dims); });
}

// y = sum / n;  dx = gy / n broadcast
Variable mean(const Variable& x, const Dims& dims, bool keepdim) {
  const Dims in = x.shape();
  const Tensor y = mean(x.value(), dims, keepdim);
  const double n =
      static_cast<double>(x.numel()) / std::max<double>(1.0, static_cast<double>(y.numel()));
  return record("mean", y, {x}, [in, dims, n](const auto& gy, auto& dx) {
    dx[0] += expand_back(gy / n, in, dims);
  });
}

// y = max over dims;  the gradient is shared evenly by the elements equal to the maximum:
// dx = gy * share, with the piecewise-constant share = 1 / (number of ties) at the maxima, else 0
namespace {
Variable extreme_over(const Variable& x, const Dims& dims, bool keepdim, bool is_max) {
  const Tensor xv = x.value();
  const Tensor y = is_max ? amax(xv, dims, keepdim) : amin(xv, dims, keepdim);
  const Dims in = x.shape();
  const Tensor hit = eq(xv, expand_back(y, in, dims)).to(xv.dtype());
  const Tensor share = hit / expand_back(sum(hit, dims, /*keepdim=*/true), in, dims);
  return record(
      is_max ? "amax" : "amin", y, {x},
      [share, in, dims](const auto& gy, auto& dx) { dx[0] += expand_back(gy, in, dims) * share; },
      {xv, y});
}
}  // namespace
Variable amax(const Variable& x, const Dims& dims, bool keepdim) {
  return extreme_over(x, dims, keepdim, true);
}
Variable amin(const Variable& x, const Dims& dims, bool keepdim) {
  return extreme_over(x, dims, keepdim, false);
}

// y = log sum exp(x);  dx = gy * exp(x - y) = gy * softmax(x)
Variable logsumexp(const Variable& x, const Dims& dims, bool keepdim) {
  const Tensor y = logsumexp(x.value(), dims, keepdim);
  const Dims in = x.shape();
  return record("logsumexp", y, {x},
                [x, y, in, dims](const auto& gy, auto& dx) {
                  dx[0] += expand_back(gy, in, dims) *
                           exp(dx.saved(x) - expand_back(dx.output(y), in, dims));
                },
                {x.value(), y});
}

// (values, indices) = max along dim;  dx = gy scattered to the winning index
namespace {
std::pair<Variable, Tensor> extreme_along(const Variable& x, std::int64_t dim, bool keepdim,
                                          bool is_max) {
  auto [values, indices] = is_max ? max(x.value(), dim, keepdim) : min(x.value(), dim, keepdim);
  const Dims in = x.shape();
  const int d = normalize_dim(dim, x.dim(), is_max ? "max" : "min");
  const Tensor idx_keep =
      x.dim() == 0 ? indices : indices.reshape(reduced_shape(in, {d}, true, "max"));
  Variable out =
      record(is_max ? "max" : "min", values, {x}, [in, d, idx_keep](const auto& gy, auto& dx) {
        if (in.size() == 0)
          dx[0] += gy;
        else
          dx[0] += gather_backward(gy.reshape(idx_keep.shape()), in, d, idx_keep);
      });
  return {out, indices};
}
}  // namespace
std::pair<Variable, Tensor> max(const Variable& x, std::int64_t dim, bool keepdim) {
  return extreme_along(x, dim, keepdim, true);
}
std::pair<Variable, Tensor> min(const Variable& x, std::int64_t dim, bool keepdim) {
  return extreme_along(x, dim, keepdim, false);
}
Tensor argmax(const Variable& x, std::int64_t dim, bool keepdim) {
  return argmax(x.value(), dim, keepdim);
}

// y = softmax(x);  dx = y * (gy - sum(gy * y))   (sum along dim)
Variable softmax(const Variable& x, std::int64_t dim) {
  const Tensor y = softmax(x.value(), dim);
  const int d = normalize_dim(dim, x.dim(), "softmax");
  return record("softmax", y, {x},
                [y, d](const auto& gy, auto& dx) {
                  if (y.dim() == 0) {  // one element: softmax is constant 1
                    dx[0] += gy * 0.0;
                    return;
                  }
                  const auto yv = dx.output(y);
                  dx[0] += yv * (gy - sum(gy * yv, {d}, /*keepdim=*/true));
                },
                {y});
}

// y = x - logsumexp(x);  dx = gy - softmax(x) * sum(gy) = gy - exp(y) * sum(gy)
Variable log_softmax(const Variable& x, std::int64_t dim) {
  const Tensor y = log_softmax(x.value(), dim);
  const int d = normalize_dim(dim, x.dim(), "log_softmax");
  return record("log_softmax", y, {x},
                [y, d](const auto& gy, auto& dx) {
                  if (y.dim() == 0) {  // one element: log_softmax is constant 0
                    dx[0] += gy * 0.0;
                    return;
                  }
                  dx[0] += gy - exp(dx.output(y)) * sum(gy, {d}, /*keepdim=*/true);
                },
                {y});
}

}  // namespace seqgrad
