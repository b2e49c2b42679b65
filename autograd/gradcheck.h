// gradcheck: compares the gradients that backward() computes with central finite differences,
// element by element, in float64. The way to trust a new op (or a new fused cell).
// gradgradcheck: the same for second derivatives, through grad() with create_graph.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace seqgrad {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;  // an element passes when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0.0;  // over all inputs and elements
  std::string report;          // the worst element, readable; empty when ok
  explicit operator bool() const { return ok; }
};

using GradcheckFn = std::function<Variable(const std::vector<Variable>&)>;

// Calls fn on float64 leaves made from `inputs` (all of them require grad) and checks the full
// Jacobian: one backward() per output element against (f(x + eps) - f(x - eps)) / (2 eps) for
// every input element. Inputs must be float64; keep them small (the cost is quadratic).
GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

// Checks the derivative of the backward pass itself. The function checked is the vector-Jacobian
// product (x, v) -> J(x)^T v = grad(fn(x), x, v, create_graph), flattened and concatenated over
// the inputs, with v a fixed pseudo-random float64 tensor of fn's output shape (seeded by
// `seed`): gradcheck on it compares d(J^T v)/dx (second derivatives, from differentiating the
// recorded backward pass) and d(J^T v)/dv = J^T with finite differences. A report names input
// index inputs.size() as v.
GradcheckResult gradgradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options = {}, std::uint64_t seed = 0);

}  // namespace seqgrad
