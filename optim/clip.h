// Gradient clipping, applied between backward() and step(): torch.nn.utils.clip_grad_norm_ and
// clip_grad_value_. Parameters without a gradient are ignored; gradients change in place.
#pragma once

#include <vector>

#include "autograd/all.h"

namespace seqgrad::optim {

// Scales all gradients together so that their joint norm (the norm of the vector of every element
// of every gradient) is at most max_norm, and returns that norm as it was before clipping (0 when
// no parameter has a gradient). norm_type is p > 0 or infinity (max |g|). As in PyTorch, the scale
// is max_norm / (total + 1e-6), applied only when it is below 1. Sums run in double.
double clip_grad_norm_(const std::vector<Variable>& params, double max_norm,
                       double norm_type = 2.0);

// Clamps every gradient element into [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Variable>& params, double clip_value);

}  // namespace seqgrad::optim
