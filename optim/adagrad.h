// Adagrad: each coordinate's step shrinks with the sum of its squared gradients so far:
// torch.optim.Adagrad.
#pragma once

#include <vector>

#include "optim/optimizer.h"

namespace seqgrad::optim {

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
};

// Adagrad(net.parameters(), {.lr = 0.1, .lr_decay = 1e-4}).
// State per parameter: "sum". The learning rate decay uses the parameter's own update count.
class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<Variable> params, const AdagradOptions& options = {});
  void step() override;

 private:
  AdagradOptions options_;  // options_.lr is only the initial value: lr() is current
};

}  // namespace seqgrad::optim
