#include "autograd/variable.h"

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "tensor/pool.h"

namespace seqgrad {

Variable::Variable(Tensor value, bool requires_grad)
    : impl_(std::allocate_shared<VariableImpl>(PoolAllocator<VariableImpl>())) {
  check_defined(value, "Variable");
  check(!requires_grad || is_floating(value.dtype()),
        "Variable: only floating-point tensors can require grad, got {}", value.dtype());
  impl_->value = std::move(value);
  impl_->requires_grad = requires_grad;
}

const Tensor& Variable::value() const {
  check(defined(), "value: the variable is undefined (default-constructed)");
  return impl_->value;
}

Variable& Variable::requires_grad_(bool on) {
  check(defined(), "requires_grad_: the variable is undefined");
  check(is_leaf(),
        "requires_grad_: only leaves can change requires_grad; use detach() on the "
        "output of '{}'",
        impl_->grad_fn ? impl_->grad_fn->op : "");
  check(!on || is_floating(dtype()),
        "requires_grad_: only floating-point tensors can require "
        "grad, got {}",
        dtype());
  impl_->requires_grad = on;
  return *this;
}

const std::shared_ptr<Node>& Variable::grad_fn() const {
  static const std::shared_ptr<Node> none;
  return impl_ ? impl_->grad_fn : none;
}

const Tensor& Variable::grad() const {
  static const Tensor none;
  return impl_ ? impl_->grad : none;
}

void Variable::set_grad(Tensor g) const {
  check(defined(), "set_grad: the variable is undefined");
  check(!g.defined() || (g.shape() == shape() && g.dtype() == dtype()),
        "set_grad: gradient of shape {} and dtype {} does not match the variable's {} {}",
        g.defined() ? g.shape() : Dims{}, g.defined() ? g.dtype() : dtype(), shape(), dtype());
  impl_->grad = std::move(g);
}

void Variable::zero_grad() const {
  if (impl_) impl_->grad = Tensor();
}

Variable Variable::detach() const {
  Variable out(value());
  return out;
}

const std::string& Variable::name() const {
  static const std::string none;
  return impl_ ? impl_->name : none;
}

Variable& Variable::set_name(std::string name) {
  check(defined(), "set_name: the variable is undefined");
  impl_->name = std::move(name);
  return *this;
}

void Variable::check_inplace(const char* op) const {
  check(defined(), "{}: the variable is undefined", op);
  check(!requires_grad() || !GradMode::is_enabled(),
        "{}: in-place update of a variable that requires grad while grad mode is on; wrap it in "
        "NoGradGuard (as optimisers do) or use the out-of-place op",
        op);
}

const Variable& Variable::fill_(double v) const {
  check_inplace("fill_");
  value().fill_(v);
  return *this;
}
const Variable& Variable::copy_(const Tensor& src) const {
  check_inplace("copy_");
  value().copy_(src);
  return *this;
}
const Variable& Variable::share_value(const Variable& other) const {
  check(defined() && other.defined(), "share_value: undefined variable");
  check(is_leaf(), "share_value: only a leaf's value can be replaced");
  check(other.shape() == shape() && other.dtype() == dtype(),
        "share_value: value of shape {} and dtype {} does not match the variable's {} {}",
        other.shape(), other.dtype(), shape(), dtype());
  impl_->value = other.value();
  return *this;
}
const Variable& Variable::add_(const Tensor& other, double alpha) const {
  check_inplace("add_");
  value().add_(other, alpha);
  return *this;
}
const Variable& Variable::mul_(double v) const {
  check_inplace("mul_");
  value().mul_(v);
  return *this;
}

}  // namespace seqgrad
