#include "optim/adam.h"

#include <cmath>
#include <utility>

namespace seqgrad::optim {

namespace {

std::vector<Optimizer::BufferSpec> buffers(const AdamOptions& o) {
  std::vector<Optimizer::BufferSpec> b = {{"exp_avg"}, {"exp_avg_sq"}};
  if (o.amsgrad) b.push_back({"max_exp_avg_sq"});
  return b;
}

}  // namespace

Adam::Adam(std::vector<Variable> params, const AdamOptions& options)
    : Adam("Adam", std::move(params), options, false) {}

Adam::Adam(const char* type_name, std::vector<Variable> params, const AdamOptions& options,
           bool decoupled)
    : Optimizer(type_name, std::move(params), options.lr, buffers(options)),
      options_(options),
      decoupled_(decoupled) {
  const auto [beta1, beta2] = options.betas;
  check_option(options.eps >= 0.0, "eps", options.eps, ">= 0");
  check_option(beta1 >= 0.0 && beta1 < 1.0, "beta1 (betas.first)", beta1, "in [0, 1)");
  check_option(beta2 >= 0.0 && beta2 < 1.0, "beta2 (betas.second)", beta2, "in [0, 1)");
  check_option(options.weight_decay >= 0.0, "weight_decay", options.weight_decay, ">= 0");
}

AdamW::AdamW(std::vector<Variable> params, const AdamWOptions& o)
    : Adam("AdamW", std::move(params),
           {.lr = o.lr,
            .betas = o.betas,
            .eps = o.eps,
            .weight_decay = o.weight_decay,
            .amsgrad = o.amsgrad},
           true) {}

// t = this parameter's update count
// Adam:  g += weight_decay * p          AdamW: p *= 1 - lr * weight_decay
// m = beta1 * m + (1 - beta1) * g       v = beta2 * v + (1 - beta2) * g^2
// amsgrad: v_max = max(v_max, v), used below instead of v
// p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
void Adam::step() {
  const AdamOptions& o = options_;
  // Not a structured binding: the lambda below captures them, which clang 14 (the fuzz build's
  // compiler) does not allow yet.
  const double beta1 = o.betas.first, beta2 = o.betas.second;
  const double lr = this->lr();
  update_each([&]<class T>(T* p, const T* g, std::int64_t n, const ParamSlice& s) {
    const double t = static_cast<double>(s.step);
    const T neg_step_size = static_cast<T>(-(lr / (1.0 - std::pow(beta1, t))));
    const T bc2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(beta2, t)));
    const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
    const T c1 = static_cast<T>(1.0 - beta1), c2 = static_cast<T>(1.0 - beta2);
    const T eps = static_cast<T>(o.eps), wd = static_cast<T>(o.weight_decay);
    const T shrink = static_cast<T>(1.0 - lr * o.weight_decay);
    const bool decoupled = decoupled_, l2 = !decoupled_ && o.weight_decay != 0.0;
    T* m = buffer<T>(s, 0);
    T* v = buffer<T>(s, 1);
    T* v_max = o.amsgrad ? buffer<T>(s, 2) : v;
    if (!o.amsgrad) {
      // The usual case, written so that the compiler vectorises it: the buffers are distinct
      // (restrict) and v_max is v (if v_max might alias v, the loop stays scalar); IEEE sqrt
      // and division give the same bits in SIMD lanes.
      T* __restrict pr = p;
      const T* __restrict gr = g;
      T* __restrict mr = m;
      T* __restrict vr = v;
      for (std::int64_t i = 0; i < n; ++i) {
        const T pi = decoupled ? pr[i] * shrink : pr[i];
        const T gi = l2 ? gr[i] + wd * pi : gr[i];
        const T mi = mr[i] * b1 + c1 * gi, vi = vr[i] * b2 + c2 * gi * gi;
        mr[i] = mi;
        vr[i] = vi;
        pr[i] = pi + neg_step_size * mi / (std::sqrt(vi) / bc2_sqrt + eps);
      }
      return;
    }
    for (std::int64_t i = 0; i < n; ++i) {
      if (decoupled) p[i] *= shrink;
      const T gi = l2 ? g[i] + wd * p[i] : g[i];
      m[i] = m[i] * b1 + c1 * gi;
      v[i] = v[i] * b2 + c2 * gi * gi;
      v_max[i] = v[i] <= v_max[i] ? v_max[i] : v[i];  // keeps NaN
      p[i] += neg_step_size * m[i] / (std::sqrt(v_max[i]) / bc2_sqrt + eps);
    }
  });
}

}  // namespace seqgrad::optim
