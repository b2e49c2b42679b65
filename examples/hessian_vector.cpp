// The curvature of a trained network: fits a small MLP to noisy y = x tanh(x), then finds the
// largest eigenvalue of its loss's Hessian (the "sharpness") by power iteration on Hessian-vector
// products, never forming the Hessian. Each product is one call of hvp(): two reverse passes
// (reverse-over-reverse), or a jvp of the gradient (forward-over-reverse); the two must agree.
// For a network this small the full Hessian (hessian()) is also affordable, and its Rayleigh
// quotient at the final vector checks the power iteration.
#include <fmt/core.h>

#include <cmath>

#include "seqgrad.h"

using namespace seqgrad;

int main() {
  Generator gen(3);
  const std::int64_t n = 64, hidden = 16;
  const Tensor x = rand({n, 1}, kFloat64, &gen) * 6.0 - 3.0;
  const Tensor y = x * tanh(x) + randn({n, 1}, kFloat64, &gen) * 0.1;

  // Parameters W1 [16, 1], b1, W2 [1, 16], b2 as plain tensors: the loss is a function of them.
  std::vector<Tensor> params = {randn({hidden, 1}, kFloat64, &gen), zeros({hidden}, kFloat64),
                                randn({1, hidden}, kFloat64, &gen) * 0.25, zeros({1}, kFloat64)};
  const Function loss = [&](const std::vector<Variable>& p) {
    const Variable h = tanh(nn::functional::linear(Variable(x), p[0], p[1]));
    return nn::functional::mse_loss(nn::functional::linear(h, p[2], p[3]), Variable(y));
  };

  // Fit with plain Adam on Variables that share the tensors' storage.
  std::vector<Variable> leaves;
  for (const Tensor& t : params) leaves.emplace_back(t, true);
  optim::Adam adam(leaves, {.lr = 0.01});
  for (int step = 0; step < 2000; ++step) {
    adam.zero_grad();
    const Variable l = loss(leaves);
    l.backward();
    adam.step();
    if (step % 500 == 0) fmt::print("step {:4d}  loss {:.5f}\n", step, l.item());
  }

  // Power iteration: v <- H v / |H v|; the eigenvalue estimate is |H v|.
  auto norm = [](const std::vector<Tensor>& v) {
    double s = 0;
    for (const Tensor& t : v) s += sum(t * t).item();
    return std::sqrt(s);
  };
  std::vector<Tensor> v;
  for (const Tensor& t : params) v.push_back(randn(t.shape(), kFloat64, &gen));
  double lambda = 0, disagreement = 0;
  for (int it = 0; it < 100; ++it) {
    const double nv = norm(v);
    for (Tensor& t : v) t = t / nv;
    const auto hv = hvp(loss, params, v, HvpMode::ReverseOverReverse);
    const auto hv2 = hvp(loss, params, v, HvpMode::ForwardOverReverse);
    for (std::size_t i = 0; i < hv.size(); ++i)
      disagreement = std::max(disagreement, amax(abs(hv[i] - hv2[i])).item());
    lambda = norm(hv);
    v = hv;
  }
  fmt::print("largest Hessian eigenvalue by power iteration: {:.6f}\n", lambda);
  fmt::print("largest |reverse-over-reverse - forward-over-reverse| element: {:.2e}\n",
             disagreement);

  // Check: the Rayleigh quotient vᵀ H v / vᵀ v with the full Hessian.
  const auto h = hessian(loss, params);
  double vhv = 0;
  for (std::size_t i = 0; i < params.size(); ++i)
    for (std::size_t j = 0; j < params.size(); ++j)
      vhv +=
          sum(v[i].reshape({-1}) *
              matmul(h[i][j].reshape({params[i].numel(), params[j].numel()}), v[j].reshape({-1})))
              .item();
  const double rayleigh = vhv / std::pow(norm(v), 2.0);
  fmt::print("Rayleigh quotient with the full Hessian: {:.6f}\n", rayleigh);
  const bool ok = std::abs(rayleigh - lambda) < 1e-6 * std::max(1.0, lambda) && disagreement < 1e-9;
  fmt::print("{}\n", ok ? "Power iteration and the full Hessian agree." : "Mismatch.");
  return ok ? 0 : 1;
}
