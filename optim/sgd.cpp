#include "optim/sgd.h"

#include <cmath>
#include <utility>

namespace seqgrad::optim {

namespace {

double required_lr(double lr) {
  check(!std::isnan(lr), "SGD: lr is required (SGDOptions::lr has no default, as in PyTorch)");
  return lr;
}

std::vector<Optimizer::BufferSpec> buffers(const SGDOptions& o) {
  if (o.momentum == 0.0) return {};
  return {{"momentum_buffer"}};  // overwritten by the first gradient, whatever its initial value
}

}  // namespace

SGD::SGD(std::vector<Variable> params, const SGDOptions& options)
    : Optimizer("SGD", std::move(params), required_lr(options.lr), buffers(options)),
      options_(options) {
  check_option(options.momentum >= 0.0, "momentum", options.momentum, ">= 0");
  check_option(options.weight_decay >= 0.0, "weight_decay", options.weight_decay, ">= 0");
  check(!options.nesterov || (options.momentum > 0.0 && options.dampening == 0.0),
        "SGD: nesterov requires momentum > 0 and dampening == 0, got momentum {} dampening {}",
        options.momentum, options.dampening);
}

// d = grad + weight_decay * p
// with momentum: buf = d on a parameter's first update, else momentum * buf + (1 - dampening) * d
//                d = nesterov ? d + momentum * buf : buf
// p -= lr * d
void SGD::step() {
  const SGDOptions& o = options_;
  const double lr = this->lr();
  update_each([&]<class T>(T* p, const T* g, std::int64_t n, const ParamSlice& s) {
    const T wd = static_cast<T>(o.weight_decay), mu = static_cast<T>(o.momentum);
    const T keep = static_cast<T>(1.0 - o.dampening), neg_lr = static_cast<T>(-lr);
    const bool decay = o.weight_decay != 0.0, nesterov = o.nesterov;
    if (o.momentum == 0.0) {
      for (std::int64_t i = 0; i < n; ++i) p[i] += neg_lr * (decay ? g[i] + wd * p[i] : g[i]);
      return;
    }
    T* buf = buffer<T>(s, 0);
    const bool first = s.step == 1;
    for (std::int64_t i = 0; i < n; ++i) {
      const T d = decay ? g[i] + wd * p[i] : g[i];
      buf[i] = first ? d : buf[i] * mu + keep * d;
      p[i] += neg_lr * (nesterov ? d + mu * buf[i] : buf[i]);
    }
  });
}

}  // namespace seqgrad::optim
