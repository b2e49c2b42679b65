#include "autograd/gradcheck.h"

#include <cmath>

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

}  // namespace seqgrad
