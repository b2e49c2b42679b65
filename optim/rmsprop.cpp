#include "optim/rmsprop.h"

#include <cmath>
#include <utility>

namespace seqgrad::optim {

namespace {

// The buffer order step() relies on: square_avg, then momentum_buffer, then grad_avg.
std::vector<Optimizer::BufferSpec> buffers(const RMSpropOptions& o) {
  std::vector<Optimizer::BufferSpec> b = {{"square_avg"}};
  if (o.momentum > 0.0) b.push_back({"momentum_buffer"});
  if (o.centered) b.push_back({"grad_avg"});
  return b;
}

}  // namespace

RMSprop::RMSprop(std::vector<Variable> params, const RMSpropOptions& options)
    : Optimizer("RMSprop", std::move(params), options.lr, buffers(options)), options_(options) {
  check_option(options.eps >= 0.0, "eps", options.eps, ">= 0");
  check_option(options.momentum >= 0.0, "momentum", options.momentum, ">= 0");
  check_option(options.weight_decay >= 0.0, "weight_decay", options.weight_decay, ">= 0");
  check_option(options.alpha >= 0.0, "alpha", options.alpha, ">= 0");
}

// g += weight_decay * p
// sq = alpha * sq + (1 - alpha) * g^2
// avg = sqrt(sq) + eps, or centred: ga = alpha * ga + (1 - alpha) * g, avg = sqrt(sq - ga^2) + eps
// with momentum: buf = momentum * buf + g / avg, p -= lr * buf;   without: p -= lr * g / avg
void RMSprop::step() {
  const RMSpropOptions& o = options_;
  const double lr = this->lr();
  update_each([&]<class T>(T* p, const T* g, std::int64_t n, ParamState& s) {
    const T alpha = static_cast<T>(o.alpha), c = static_cast<T>(1.0 - o.alpha);
    const T eps = static_cast<T>(o.eps), wd = static_cast<T>(o.weight_decay);
    const T mu = static_cast<T>(o.momentum), neg_lr = static_cast<T>(-lr);
    const bool decay = o.weight_decay != 0.0, centered = o.centered;
    const bool use_momentum = o.momentum > 0.0;
    T* sq = buffer<T>(s, 0);
    T* buf = use_momentum ? buffer<T>(s, 1) : nullptr;
    T* ga = centered ? buffer<T>(s, use_momentum ? 2 : 1) : nullptr;
    for (std::int64_t i = 0; i < n; ++i) {
      const T gi = decay ? g[i] + wd * p[i] : g[i];
      sq[i] = sq[i] * alpha + c * gi * gi;
      T avg;
      if (centered) {
        ga[i] = ga[i] * alpha + c * gi;
        avg = std::sqrt(sq[i] - ga[i] * ga[i]) + eps;
      } else {
        avg = std::sqrt(sq[i]) + eps;
      }
      if (use_momentum) {
        buf[i] = buf[i] * mu + gi / avg;
        p[i] += neg_lr * buf[i];
      } else {
        p[i] += neg_lr * gi / avg;
      }
    }
  });
}

}  // namespace seqgrad::optim
