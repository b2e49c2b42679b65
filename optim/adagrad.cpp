#include "optim/adagrad.h"

#include <cmath>
#include <utility>

namespace seqgrad::optim {

Adagrad::Adagrad(std::vector<Variable> params, const AdagradOptions& options)
    : Optimizer("Adagrad", std::move(params), options.lr,
                {{"sum", options.initial_accumulator_value}}),
      options_(options) {
  check_option(options.lr_decay >= 0.0, "lr_decay", options.lr_decay, ">= 0");
  check_option(options.weight_decay >= 0.0, "weight_decay", options.weight_decay, ">= 0");
  check_option(options.initial_accumulator_value >= 0.0, "initial_accumulator_value",
               options.initial_accumulator_value, ">= 0");
  check_option(options.eps >= 0.0, "eps", options.eps, ">= 0");
}

// t = this parameter's update count
// g += weight_decay * p
// clr = lr / (1 + (t - 1) * lr_decay)
// sum += g^2
// p -= clr * g / (sqrt(sum) + eps)
void Adagrad::step() {
  const AdagradOptions& o = options_;
  const double lr = this->lr();
  update_each([&]<class T>(T* p, const T* g, std::int64_t n, const ParamSlice& s) {
    const double clr = lr / (1.0 + static_cast<double>(s.step - 1) * o.lr_decay);
    const T neg_clr = static_cast<T>(-clr), eps = static_cast<T>(o.eps);
    const T wd = static_cast<T>(o.weight_decay);
    const bool decay = o.weight_decay != 0.0;
    T* sum = buffer<T>(s, 0);
    for (std::int64_t i = 0; i < n; ++i) {
      const T gi = decay ? g[i] + wd * p[i] : g[i];
      sum[i] += gi * gi;
      p[i] += neg_clr * gi / (std::sqrt(sum[i]) + eps);
    }
  });
}

}  // namespace seqgrad::optim
