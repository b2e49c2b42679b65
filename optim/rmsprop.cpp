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
  update_each([&]<class T>(T* p, const T* g, std::int64_t n, const ParamSlice& s) {
    const T alpha = static_cast<T>(o.alpha), c = static_cast<T>(1.0 - o.alpha);
    const T eps = static_cast<T>(o.eps), wd = static_cast<T>(o.weight_decay);
    const T mu = static_cast<T>(o.momentum), neg_lr = static_cast<T>(-lr);
    const bool decay = o.weight_decay != 0.0;
    T* sq = buffer<T>(s, 0);
    T* buf = o.momentum > 0.0 ? buffer<T>(s, 1) : nullptr;
    T* ga = o.centered ? buffer<T>(s, buf ? 2 : 1) : nullptr;
    // One loop per variant, chosen at compile time: GCC does not vectorise the loop with
    // run-time branches on both options.
    auto run = [&]<bool kCentered, bool kMomentum>() {
      for (std::int64_t i = 0; i < n; ++i) {
        const T gi = decay ? g[i] + wd * p[i] : g[i];
        sq[i] = sq[i] * alpha + c * gi * gi;
        T var = sq[i];
        if constexpr (kCentered) {
          ga[i] = ga[i] * alpha + c * gi;
          var -= ga[i] * ga[i];
        }
        const T avg = std::sqrt(var) + eps;
        if constexpr (kMomentum) {
          buf[i] = buf[i] * mu + gi / avg;
          p[i] += neg_lr * buf[i];
        } else {
          p[i] += neg_lr * gi / avg;
        }
      }
    };
    if (ga && buf)
      run.template operator()<true, true>();
    else if (ga)
      run.template operator()<true, false>();
    else if (buf)
      run.template operator()<false, true>();
    else
      run.template operator()<false, false>();
  });
}

}  // namespace seqgrad::optim
