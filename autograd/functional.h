// Derivatives of whole functions, as torch.autograd.functional: vector-Jacobian and
// Jacobian-vector products, Hessian-vector products, and full Jacobians and Hessians for small
// inputs. All are built on grad() (engine.h); the forward-mode products use the double-vjp trick
// (below), so every op that passes gradgradcheck supports them, with no second set of rules.
//
// fn maps float tensors (made into leaves that require grad) to one Variable. Results are plain
// tensors; an input fn does not depend on gets zeros.
#pragma once

#include <functional>
#include <vector>

#include "autograd/variable.h"

namespace seqgrad {

using Function = std::function<Variable(const std::vector<Variable>&)>;

struct VjpResult {
  Tensor output;            // fn(inputs)
  std::vector<Tensor> vjp;  // vᵀ J, one per input (each of that input's shape)
};
// vᵀ J for a cotangent v of fn's output shape: one reverse pass.
VjpResult vjp(const Function& fn, const std::vector<Tensor>& inputs, const Tensor& v);

struct JvpResult {
  Tensor output;  // fn(inputs)
  Tensor jvp;     // J v = sum_i J_i v_i, of fn's output shape
};
// J v for tangents v (one per input, of its shape). Computed by the double-vjp trick: with a
// dummy cotangent u (zeros that require grad), g(u) = Jᵀ u is linear in u, so the gradient of
// <g(u), v> with respect to u is J v. It costs two reverse passes (the second through the
// recorded first) instead of one forward pass with dual numbers, and needs no jvp rule per op:
// the backward formulas, written once, are all it uses. torch.autograd.functional.jvp does the
// same.
JvpResult jvp(const Function& fn, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v);

enum class HvpMode {
  ReverseOverReverse,  // grad of <grad f(x), v>: two reverse passes
  ForwardOverReverse,  // jvp of x -> grad f(x) in direction v (here: the double-vjp trick)
};
// H v for a one-element fn, v one per input; the result is one tensor per input. Both modes give
// the same numbers (H is symmetric); tests check that they do.
std::vector<Tensor> hvp(const Function& fn, const std::vector<Tensor>& inputs,
                        const std::vector<Tensor>& v, HvpMode mode = HvpMode::ReverseOverReverse);

// d fn / d input_i, one tensor per input, of shape fn's output shape followed by input_i's (one
// reverse pass per output element: for small functions).
std::vector<Tensor> jacobian(const Function& fn, const std::vector<Tensor>& inputs);

// d² fn / d input_i d input_j of a one-element fn: hessian[i][j] has shape input_i's shape
// followed by input_j's (one reverse pass per input element, through the recorded gradient).
std::vector<std::vector<Tensor>> hessian(const Function& fn, const std::vector<Tensor>& inputs);

}  // namespace seqgrad
