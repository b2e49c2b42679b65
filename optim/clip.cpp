#include "optim/clip.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/parallel.h"

namespace seqgrad::optim {

namespace {

// max(acc, a), where a NaN on either side wins and stays (as in torch.max).
double max_keeping_nan(double acc, double a) { return acc != acc || a <= acc ? acc : a; }

// sum f(x[i]) over n values in eight interleaved float64 sums, added up at the end: one chain
// of dependent additions waited 4 cycles per value (2% of the CNN's step); eight vectorise. The
// order is fixed, so the result does not depend on who calls.
template <class T, class F>
double sum8(const T* x, std::int64_t n, F f) {
  double lanes[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) lanes[l] += f(static_cast<double>(x[i + l]));
  double acc = 0.0;
  for (; i < n; ++i) acc += f(static_cast<double>(x[i]));
  for (const double lane : lanes) acc += lane;
  return acc;
}

// Sum of |x|^p (or, for p = infinity, max |x|) over n values.
template <class T>
double accumulate(const T* x, std::int64_t n, double p) {
  double acc = 0.0;
  if (std::isinf(p)) {
    for (std::int64_t i = 0; i < n; ++i)
      acc = max_keeping_nan(acc, std::abs(static_cast<double>(x[i])));
  } else if (p == 1.0) {
    acc = sum8(x, n, [](double v) { return std::abs(v); });
  } else if (p == 2.0) {
    acc = sum8(x, n, [](double v) { return v * v; });
  } else {
    for (std::int64_t i = 0; i < n; ++i) acc += std::pow(std::abs(static_cast<double>(x[i])), p);
  }
  return acc;
}

// The gradients are read in blocks of a fixed size (a gradient's last block may be shorter), each
// block's partial result is computed on whichever thread, and the partials are combined in block
// order: the norm is the same bits for any thread count.
constexpr std::int64_t kBlock = std::int64_t{1} << 14;

struct Block {
  const Tensor* grad;  // contiguous
  std::int64_t begin, end;
};

}  // namespace

double clip_grad_norm_(const std::vector<Variable>& params, double max_norm, double norm_type) {
  check(norm_type > 0.0, "clip_grad_norm_: norm_type must be > 0 or infinity, got {}", norm_type);
  check(max_norm >= 0.0, "clip_grad_norm_: max_norm must be >= 0, got {}", max_norm);
  const bool inf = std::isinf(norm_type);
  std::vector<Tensor> grads;            // contiguous (leaf gradients already are: no copy)
  std::vector<const Variable*> copied;  // parameters whose gradient is not: scaled by mul_ below
  grads.reserve(params.size());
  for (const Variable& p : params) {
    if (!p.defined() || !p.grad().defined()) continue;
    grads.push_back(p.grad().contiguous());
    if (!p.grad().is_contiguous()) copied.push_back(&p);
  }
  std::vector<Block> blocks;
  for (const Tensor& g : grads)
    for (std::int64_t b = 0; b < g.numel(); b += kBlock)
      blocks.push_back({&g, b, std::min(g.numel(), b + kBlock)});
  std::vector<double> partial(blocks.size());
  const auto sum_blocks = [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t i = first; i < last; ++i) {
      const Block& k = blocks[static_cast<std::size_t>(i)];
      partial[static_cast<std::size_t>(i)] =
          dispatch_floating(k.grad->dtype(), "clip_grad_norm_", [&]<class T>() {
            return accumulate(k.grad->data<T>() + k.begin, k.end - k.begin, norm_type);
          });
    }
  };
  const auto n_blocks = static_cast<std::int64_t>(blocks.size());
  if (n_blocks >= 4)
    parallel_for(n_blocks, sum_blocks);
  else
    sum_blocks(0, n_blocks);
  double acc = 0.0;
  for (const double a : partial) acc = inf ? max_keeping_nan(acc, a) : acc + a;
  // The p-norm of the per-parameter p-norms (PyTorch's formulation) equals this joint p-norm.
  const double total = inf                ? acc
                       : norm_type == 2.0 ? std::sqrt(acc)
                                          : std::pow(acc, 1.0 / norm_type);
  const double scale = max_norm / (total + 1e-6);
  if (scale < 1.0) {
    // Written out rather than grad.mul_(scale): a loop may not start another parallel loop.
    const auto scale_blocks = [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t i = first; i < last; ++i) {
        const Block& k = blocks[static_cast<std::size_t>(i)];
        dispatch_floating(k.grad->dtype(), "clip_grad_norm_", [&]<class T>() {
          T* x = k.grad->data<T>();
          const T s = static_cast<T>(scale);
          for (std::int64_t j = k.begin; j < k.end; ++j) x[j] *= s;
        });
      }
    };
    if (n_blocks >= 4)
      parallel_for(n_blocks, scale_blocks);
    else
      scale_blocks(0, n_blocks);
    for (const Tensor& g : grads) g.bump_version();
    for (const Variable* p : copied) p->grad().mul_(scale);
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
