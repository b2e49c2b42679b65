// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2 weight
// decay: torch.optim.SGD.
#pragma once

#include <limits>
#include <vector>

#include "optim/optimizer.h"

namespace seqgrad::optim {

struct SGDOptions {
  // Required (as in PyTorch, which has no default learning rate for SGD).
  double lr = std::numeric_limits<double>::quiet_NaN();
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;  // needs momentum > 0 and dampening == 0
};

// SGD(net.parameters(), {.lr = 0.1, .momentum = 0.9, .nesterov = true}).
// State per parameter: "momentum_buffer" when momentum != 0.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Variable> params, const SGDOptions& options);
  void step() override;

 private:
  SGDOptions options_;  // options_.lr is only the initial value: lr() is current
};

}  // namespace seqgrad::optim
