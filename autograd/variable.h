// Variable: a tensor value plus what reverse-mode differentiation needs: whether it requires a
// gradient, the gradient accumulated so far (leaves), and the graph node of the op that produced
// it (non-leaves). Copying a Variable shares all of that, like a PyTorch tensor handle.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "tensor/all.h"

namespace seqgrad {

struct Node;

struct VariableImpl {
  Tensor value;
  Tensor grad;  // accumulated by backward() into leaves that require grad
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  std::uint32_t output_nr = 0;    // which of grad_fn's outputs this is
  std::string name;               // shown by to_dot()
};

class Variable {
 public:
  Variable() = default;  // undefined
  explicit Variable(Tensor value, bool requires_grad = false);

  bool defined() const { return impl_ != nullptr; }
  const Tensor& value() const;
  const Dims& shape() const { return value().shape(); }
  int dim() const { return value().dim(); }
  std::int64_t size(std::int64_t d) const { return value().size(d); }
  std::int64_t numel() const { return value().numel(); }
  DType dtype() const { return value().dtype(); }
  double item() const { return value().item(); }

  // --- autograd ---------------------------------------------------------------------------------
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  // Only leaves can change it (a non-leaf requires grad because its inputs do).
  Variable& requires_grad_(bool on = true);
  bool is_leaf() const { return !impl_ || impl_->grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const;
  // Which output of grad_fn() this is (0 but for the outputs of a multi-output op).
  std::uint32_t output_nr() const { return impl_ ? impl_->output_nr : 0; }
  // The gradient accumulated by backward(); undefined until one reached this leaf.
  const Tensor& grad() const;
  void set_grad(Tensor g) const;
  void zero_grad() const;  // drops the gradient (PyTorch's set_to_none=True)
  // Runs reverse mode from this variable. `gradient` (dL/dthis) may be omitted for one-element
  // results. The graph is freed afterwards unless retain_graph is true.
  void backward(const Tensor& gradient = {}, bool retain_graph = false) const;
  // The same value, cut from the graph: no grad_fn, requires_grad false, storage shared.
  Variable detach() const;

  const std::string& name() const;
  Variable& set_name(std::string name);

  // --- in-place updates, outside the graph (optimisers, initialisers) ----------------------------
  // Allowed under NoGradGuard or on variables that do not require grad; they bump the version
  // counter, so a pending backward that saved this value reports the change instead of using it.
  const Variable& fill_(double value) const;
  const Variable& zero_() const { return fill_(0.0); }
  const Variable& copy_(const Tensor& src) const;
  const Variable& add_(const Tensor& other, double alpha = 1.0) const;
  const Variable& mul_(double value) const;
  // Makes this leaf's value `other`'s tensor (same shape and dtype; the storage is shared, not
  // copied), keeping its own gradient: how the replicas of data-parallel training read one set of
  // weights (nn::Module::share_parameters).
  const Variable& share_value(const Variable& other) const;

  // --- views and shape (differentiable; see functions.h) -------------------------------------
  Variable view(const Dims& shape) const;
  Variable reshape(const Dims& shape) const;
  Variable flatten() const { return reshape({-1}); }
  Variable transpose(std::int64_t d0, std::int64_t d1) const;
  Variable t() const;
  Variable permute(const Dims& order) const;
  Variable narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  Variable slice(std::int64_t dim, std::int64_t start, std::int64_t end,
                 std::int64_t step = 1) const;
  Variable select(std::int64_t dim, std::int64_t index) const;
  Variable unsqueeze(std::int64_t dim) const;
  Variable squeeze() const;
  Variable squeeze(std::int64_t dim) const;
  Variable expand(const Dims& shape) const;
  Variable contiguous() const;
  Variable clone() const;
  Variable to(DType dtype) const;

  // Identity of the underlying variable (two handles to the same variable compare equal).
  const VariableImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<VariableImpl>& impl_ptr() const { return impl_; }

 private:
  void check_inplace(const char* op) const;
  std::shared_ptr<VariableImpl> impl_;
};

}  // namespace seqgrad
