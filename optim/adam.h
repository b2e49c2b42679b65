// Adam (L2 weight decay added to the gradient) and AdamW (weight decay decoupled from the
// gradient, applied to the parameter directly): torch.optim.Adam and torch.optim.AdamW.
#pragma once

#include <utility>
#include <vector>

#include "optim/optimizer.h"

namespace seqgrad::optim {

struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;  // normalise by the largest second moment seen so far
};

// The same options; only the default weight decay differs (as in PyTorch).
struct AdamWOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

// Adam(net.parameters(), {.lr = 3e-4, .betas = {0.9, 0.98}}).
// State per parameter: "exp_avg", "exp_avg_sq", and "max_exp_avg_sq" with amsgrad. The bias
// corrections use the parameter's own update count ("i.step"), as PyTorch's state['step'].
class Adam : public Optimizer {
 public:
  Adam(std::vector<Variable> params, const AdamOptions& options = {});
  void step() override;

 protected:
  Adam(const char* type_name, std::vector<Variable> params, const AdamOptions& options,
       bool decoupled);

 private:
  AdamOptions options_;  // options_.lr is only the initial value: lr() is current
  bool decoupled_;       // AdamW
};

// AdamW(net.parameters(), {.lr = 1e-3, .weight_decay = 0.05}).
class AdamW : public Adam {
 public:
  AdamW(std::vector<Variable> params, const AdamWOptions& options = {});
};

}  // namespace seqgrad::optim
