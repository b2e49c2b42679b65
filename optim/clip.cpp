#include "optim/clip.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace seqgrad::optim {

namespace {

// Sum of |g|^p (or, for p = infinity, max |g|) over the elements of one gradient.
double accumulate(const Tensor& grad, double p) {
  const Tensor g = grad.contiguous();  // leaf gradients already are: no copy
  return dispatch_floating(g.dtype(), "clip_grad_norm_", [&]<class T>() {
    const T* x = g.data<T>();
    const std::int64_t n = g.numel();
    double acc = 0.0;
    if (std::isinf(p)) {
      // NaN propagates, as in torch.max.
      for (std::int64_t i = 0; i < n; ++i) {
        const double a = std::abs(static_cast<double>(x[i]));
        acc = a <= acc ? acc : a;
      }
    } else if (p == 1.0) {
      for (std::int64_t i = 0; i < n; ++i) acc += std::abs(static_cast<double>(x[i]));
    } else if (p == 2.0) {
      for (std::int64_t i = 0; i < n; ++i) acc += static_cast<double>(x[i]) * x[i];
    } else {
      for (std::int64_t i = 0; i < n; ++i) acc += std::pow(std::abs(static_cast<double>(x[i])), p);
    }
    return acc;
  });
}

}  // namespace

double clip_grad_norm_(const std::vector<Variable>& params, double max_norm, double norm_type) {
  check(norm_type > 0.0, "clip_grad_norm_: norm_type must be > 0 or infinity, got {}", norm_type);
  check(max_norm >= 0.0, "clip_grad_norm_: max_norm must be >= 0, got {}", max_norm);
  const bool inf = std::isinf(norm_type);
  double acc = 0.0;
  for (const Variable& p : params) {
    if (!p.defined() || !p.grad().defined()) continue;
    const double a = accumulate(p.grad(), norm_type);
    acc = inf ? (a <= acc ? acc : a) : acc + a;
  }
  // The p-norm of the per-parameter p-norms (PyTorch's formulation) equals this joint p-norm.
  const double total = inf                ? acc
                       : norm_type == 2.0 ? std::sqrt(acc)
                                          : std::pow(acc, 1.0 / norm_type);
  const double scale = max_norm / (total + 1e-6);
  if (scale < 1.0) {
    for (const Variable& p : params)
      if (p.defined() && p.grad().defined()) p.grad().mul_(scale);
  }
  return total;
}

void clip_grad_value_(const std::vector<Variable>& params, double clip_value) {
  check(clip_value >= 0.0, "clip_grad_value_: clip_value must be >= 0, got {}", clip_value);
  for (const Variable& p : params) {
    if (!p.defined() || !p.grad().defined()) continue;
    const Tensor& g = p.grad();
    if (!g.is_contiguous()) {
      g.copy_(clamp(g, -clip_value, clip_value));
      continue;
    }
    dispatch_floating(g.dtype(), "clip_grad_value_", [&]<class T>() {
      T* x = g.data<T>();
      const T hi = static_cast<T>(clip_value), lo = -hi;
      const std::int64_t n = g.numel();
      for (std::int64_t i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], lo), hi);
    });
    g.bump_version();
  }
}

}  // namespace seqgrad::optim
