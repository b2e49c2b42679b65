#include "autograd/gradcheck.h"

#include <cmath>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"

namespace seqgrad {

namespace {

std::string element_index(const Dims& shape, std::int64_t flat) {
  Dims idx = Dims::filled(shape.size(), 0);
  for (int d = shape.size() - 1; d >= 0; --d) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return fmt::format("({})", fmt::join(idx.begin(), idx.end(), ", "));
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  check(!inputs.empty(), "gradcheck: needs at least one input");
  std::vector<Tensor> xs;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    check_defined(inputs[i], "gradcheck");
    check(inputs[i].dtype() == kFloat64,
          "gradcheck: input {} is {}; finite differences need float64 inputs", i,
          inputs[i].dtype());
    xs.push_back(inputs[i].clone());  // private, contiguous copies that we perturb
  }
  auto make_leaves = [&] {
    std::vector<Variable> vs;
    for (const Tensor& x : xs) vs.emplace_back(x, /*requires_grad=*/true);
    return vs;
  };

  // Analytic Jacobian, one row per output element: J[i][k][j] = d out[k] / d input_i[j].
  std::vector<Variable> leaves = make_leaves();
  const Variable out = fn(leaves);
  check(out.defined() && out.dtype() == kFloat64, "gradcheck: fn must return a float64 variable");
  const std::int64_t n_out = out.numel();
  std::vector<std::vector<double>> analytic(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i)
    analytic[i].assign(static_cast<std::size_t>(n_out * xs[i].numel()), 0.0);
  if (out.requires_grad()) {
    for (std::int64_t k = 0; k < n_out; ++k) {
      for (auto& l : leaves) l.zero_grad();
      Tensor seed = zeros(out.shape(), kFloat64);
      seed.data<double>()[k] = 1.0;
      out.backward(seed, /*retain_graph=*/true);
      for (std::size_t i = 0; i < xs.size(); ++i) {
        if (!leaves[i].grad().defined()) continue;  // out does not depend on this input
        check(leaves[i].grad().shape() == xs[i].shape(),
              "gradcheck: gradient of input {} has shape {}, the input has {}", i,
              leaves[i].grad().shape(), xs[i].shape());
        const auto g = leaves[i].grad().to_vector<double>();
        for (std::size_t j = 0; j < g.size(); ++j) analytic[i][k * g.size() + j] = g[j];
      }
    }
  }

  // Numeric Jacobian by central differences, and the comparison.
  GradcheckResult result;
  double worst_excess = 0.0;
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    double* x = xs[i].data<double>();
    const std::int64_t n_in = xs[i].numel();
    for (std::int64_t j = 0; j < n_in; ++j) {
      const double saved = x[j];
      x[j] = saved + options.eps;
      const auto plus = fn(make_leaves()).value().contiguous().to_vector<double>();
      x[j] = saved - options.eps;
      const auto minus = fn(make_leaves()).value().contiguous().to_vector<double>();
      x[j] = saved;
      for (std::int64_t k = 0; k < n_out; ++k) {
        const double numeric = (plus[k] - minus[k]) / (2.0 * options.eps);
        const double a = analytic[i][k * n_in + j];
        const double err = std::abs(a - numeric);
        const double tol = options.atol + options.rtol * std::abs(numeric);
        result.max_abs_error = std::max(result.max_abs_error, err);
        const bool bad = !(err <= tol);  // NaN fails too
        if (bad && (result.ok || err - tol > worst_excess)) {
          worst_excess = err - tol;
          result.ok = false;
          result.report = fmt::format(
              "gradcheck failed: d output{} / d input {}{} (input shape {}, output shape {}): "
              "analytic {:.8g}, numeric {:.8g}, |error| {:.3g} > tolerance {:.3g}",
              element_index(out.shape(), k), i, element_index(xs[i].shape(), j), xs[i].shape(),
              out.shape(), a, numeric, err, tol);
        }
      }
    }
  }
  return result;
}

GradcheckResult gradgradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options, std::uint64_t seed) {
  check(!inputs.empty(), "gradgradcheck: needs at least one input");
  const std::size_t n = inputs.size();
  Dims out_shape;
  {
    EnableGradGuard record;
    std::vector<Variable> leaves;
    for (const Tensor& x : inputs) leaves.emplace_back(x.clone(), /*requires_grad=*/true);
    out_shape = fn(leaves).shape();
  }
  Generator gen(seed);
  std::vector<Tensor> all = inputs;
  all.push_back(randn(out_shape, kFloat64, &gen));

  // gradcheck perturbs under NoGradGuard; the vector-Jacobian product needs a graph to
  // differentiate, so it records regardless.
  const GradcheckFn vjp = [&](const std::vector<Variable>& xv) {
    EnableGradGuard record;
    const std::vector<Variable> x(xv.begin(), xv.begin() + static_cast<std::ptrdiff_t>(n));
    const Variable y = fn(x);
    std::vector<Variable> gs(n);
    if (y.requires_grad()) gs = grad({y}, x, {xv[n]}, {.create_graph = true, .allow_unused = true});
    std::vector<Variable> flat;
    for (std::size_t i = 0; i < n; ++i)
      flat.push_back(gs[i].defined() ? gs[i].reshape({-1})
                                     : Variable(zeros({x[i].numel()}, kFloat64)));
    return cat(flat, 0);
  };
  GradcheckResult r = gradcheck(vjp, all, options);
  if (!r.ok)
    r.report = fmt::format("gradgradcheck (the output is J^T v, flattened; input {} is v): {}", n,
                           r.report);
  return r;
}

}  // namespace seqgrad
