// RMSprop: gradients divided by a running root mean square of recent gradients, optionally
// centred (by the running mean) and with momentum: torch.optim.RMSprop.
#pragma once

#include <vector>

#include "optim/optimizer.h"

namespace seqgrad::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;  // smoothing constant of the running averages
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;  // normalise by an estimate of the variance instead of the raw moment
};

// RMSprop(net.parameters(), {.lr = 1e-3, .momentum = 0.9, .centered = true}).
// State per parameter: "square_avg", "momentum_buffer" when momentum > 0, "grad_avg" when centred.
class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<Variable> params, const RMSpropOptions& options = {});
  void step() override;

 private:
  RMSpropOptions options_;  // options_.lr is only the initial value: lr() is current
};

}  // namespace seqgrad::optim
