#include "autograd/functional.h"

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"

namespace seqgrad {

namespace {

std::vector<Variable> leaves_of(const std::vector<Tensor>& inputs, const char* op) {
  check(!inputs.empty(), "{}: needs at least one input", op);
  std::vector<Variable> leaves;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    check_defined(inputs[i], op);
    check(is_floating(inputs[i].dtype()), "{}: input {} is {}; it must be floating point", op, i,
          inputs[i].dtype());
    leaves.emplace_back(inputs[i], /*requires_grad=*/true);
  }
  return leaves;
}

// The gradients, with zeros for inputs the outputs do not depend on.
std::vector<Tensor> values_or_zeros(const std::vector<Variable>& grads,
                                    const std::vector<Variable>& inputs) {
  std::vector<Tensor> out;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    out.push_back(grads[i].defined() ? grads[i].value()
                                     : zeros(inputs[i].shape(), inputs[i].dtype()));
  return out;
}

// Only the outputs that carry a graph can be differentiated; the others contribute nothing.
std::vector<Variable> grad_or_zeros(const std::vector<Variable>& outputs,
                                    const std::vector<Variable>& inputs,
                                    const std::vector<Variable>& grad_outputs,
                                    const GradOptions& options) {
  std::vector<Variable> ys, gs;
  for (std::size_t k = 0; k < outputs.size(); ++k)
    if (outputs[k].defined() && outputs[k].requires_grad()) {
      ys.push_back(outputs[k]);
      gs.push_back(grad_outputs[k]);
    }
  if (ys.empty()) return std::vector<Variable>(inputs.size());
  GradOptions o = options;
  o.allow_unused = true;
  return grad(ys, inputs, gs, o);
}

Dims concat(const Dims& a, const Dims& b, const char* op) {
  check(a.size() + b.size() <= kMaxDims, "{}: shapes {} and {} together have more than {} dims", op,
        a, b, kMaxDims);
  Dims d = a;
  for (std::int64_t s : b) d.push_back(s);
  return d;
}

void check_like(const Tensor& v, const Tensor& x, const char* op, const char* what, std::size_t i) {
  check_defined(v, op);
  check(v.shape() == x.shape() && v.dtype() == x.dtype(),
        "{}: {} {} has shape {} and dtype {}, expected {} {}", op, what, i, v.shape(), v.dtype(),
        x.shape(), x.dtype());
}

}  // namespace

VjpResult vjp(const Function& fn, const std::vector<Tensor>& inputs, const Tensor& v) {
  EnableGradGuard record;
  const std::vector<Variable> x = leaves_of(inputs, "vjp");
  const Variable y = fn(x);
  check_like(v, y.value(), "vjp", "v for output", 0);
  return {y.value(), values_or_zeros(grad_or_zeros({y}, x, {Variable(v)}, {}), x)};
}

JvpResult jvp(const Function& fn, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v) {
  EnableGradGuard record;
  const std::vector<Variable> x = leaves_of(inputs, "jvp");
  check(v.size() == x.size(), "jvp: {} tangents for {} inputs", v.size(), x.size());
  for (std::size_t i = 0; i < v.size(); ++i) check_like(v[i], inputs[i], "jvp", "tangent", i);
  const Variable y = fn(x);
  const Variable u(zeros(y.shape(), y.dtype()), /*requires_grad=*/true);
  const std::vector<Variable> g = grad_or_zeros({y}, x, {u}, {.create_graph = true});
  std::vector<Variable> tangents;
  for (const Tensor& t : v) tangents.emplace_back(t);
  return {y.value(), values_or_zeros(grad_or_zeros(g, {u}, tangents, {}), {u})[0]};
}

std::vector<Tensor> hvp(const Function& fn, const std::vector<Tensor>& inputs,
                        const std::vector<Tensor>& v, HvpMode mode) {
  check(v.size() == inputs.size(), "hvp: {} vectors for {} inputs", v.size(), inputs.size());
  for (std::size_t i = 0; i < v.size(); ++i) check_like(v[i], inputs[i], "hvp", "vector", i);
  const auto scalar = [&](const Variable& f) {
    check(f.numel() == 1, "hvp: fn must return one element, got shape {}", f.shape());
  };
  if (mode == HvpMode::ForwardOverReverse) {
    // x -> grad f(x), flattened into one vector, differentiated forward in direction v.
    const Function gradient = [&](const std::vector<Variable>& x) {
      const Variable f = fn(x);
      scalar(f);
      const std::vector<Variable> g =
          grad_or_zeros({f}, x, {Variable(ones(f.shape(), f.dtype()))}, {.create_graph = true});
      std::vector<Variable> flat;
      for (std::size_t i = 0; i < x.size(); ++i)
        flat.push_back(g[i].defined() ? g[i].reshape({-1})
                                      : Variable(zeros({x[i].numel()}, x[i].dtype())));
      return cat(flat, 0);
    };
    const Tensor hv = jvp(gradient, inputs, v).jvp;
    std::vector<Tensor> out;
    std::int64_t offset = 0;
    for (const Tensor& x : inputs) {
      out.push_back(hv.narrow(0, offset, x.numel()).reshape(x.shape()).contiguous());
      offset += x.numel();
    }
    return out;
  }
  EnableGradGuard record;
  const std::vector<Variable> x = leaves_of(inputs, "hvp");
  const Variable f = fn(x);
  scalar(f);
  const std::vector<Variable> g =
      grad_or_zeros({f}, x, {Variable(ones(f.shape(), f.dtype()))}, {.create_graph = true});
  std::vector<Variable> gs, vs;
  for (std::size_t i = 0; i < x.size(); ++i) {
    gs.push_back(g[i]);
    vs.emplace_back(v[i]);
  }
  return values_or_zeros(grad_or_zeros(gs, x, vs, {}), x);
}

std::vector<Tensor> jacobian(const Function& fn, const std::vector<Tensor>& inputs) {
  EnableGradGuard record;
  const std::vector<Variable> x = leaves_of(inputs, "jacobian");
  const Variable y = fn(x);
  std::vector<Tensor> jac;
  for (const Variable& xi : x)
    jac.push_back(zeros(concat(y.shape(), xi.shape(), "jacobian"), xi.dtype())
                      .reshape({y.numel(), xi.numel()}));
  for (std::int64_t k = 0; k < y.numel(); ++k) {
    Tensor e = zeros({y.numel()}, y.dtype());
    e.narrow(0, k, 1).fill_(1.0);
    const std::vector<Variable> row =
        grad_or_zeros({y}, x, {Variable(e.reshape(y.shape()))}, {.retain_graph = true});
    for (std::size_t i = 0; i < x.size(); ++i)
      if (row[i].defined()) jac[i].select(0, k).copy_(row[i].value().reshape({-1}));
  }
  for (std::size_t i = 0; i < x.size(); ++i)
    jac[i] = jac[i].reshape(concat(y.shape(), x[i].shape(), "jacobian"));
  return jac;
}

std::vector<std::vector<Tensor>> hessian(const Function& fn, const std::vector<Tensor>& inputs) {
  EnableGradGuard record;
  const std::vector<Variable> x = leaves_of(inputs, "hessian");
  const Variable f = fn(x);
  check(f.numel() == 1, "hessian: fn must return one element, got shape {}", f.shape());
  const std::vector<Variable> g =
      grad_or_zeros({f}, x, {Variable(ones(f.shape(), f.dtype()))}, {.create_graph = true});
  std::vector<std::vector<Tensor>> h(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    for (std::size_t j = 0; j < x.size(); ++j)
      h[i].push_back(zeros({x[i].numel(), x[j].numel()}, x[j].dtype()));
    for (std::int64_t k = 0; k < x[i].numel() && g[i].defined(); ++k) {
      Tensor e = zeros({x[i].numel()}, x[i].dtype());
      e.narrow(0, k, 1).fill_(1.0);
      const std::vector<Variable> row =
          grad_or_zeros({g[i]}, x, {Variable(e.reshape(x[i].shape()))}, {.retain_graph = true});
      for (std::size_t j = 0; j < x.size(); ++j)
        if (row[j].defined()) h[i][j].select(0, k).copy_(row[j].value().reshape({-1}));
    }
    for (std::size_t j = 0; j < x.size(); ++j)
      h[i][j] = h[i][j].reshape(concat(x[i].shape(), x[j].shape(), "hessian"));
  }
  return h;
}

}  // namespace seqgrad
