// Newton's method with derivatives from autodiff: minimises Rosenbrock's function
//   f(x, y) = (1 - x)^2 + 100 (y - x^2)^2
// from (-1.2, 1), stepping p <- p - H^-1 grad f with the gradient (vjp) and the 2x2 Hessian
// (hessian(), through the recorded backward pass) both from seqgrad. It reaches the minimum
// (1, 1) in a handful of steps, where gradient descent on this valley needs thousands.
#include <fmt/core.h>

#include <cmath>

#include "seqgrad.h"

using namespace seqgrad;

int main() {
  const Function rosenbrock = [](const std::vector<Variable>& v) {
    const Variable x = v[0].select(0, 0), y = v[0].select(0, 1);
    return pow(1.0 - x, 2.0) + 100.0 * pow(y - x * x, 2.0);
  };
  Tensor p = tensor({-1.2, 1.0}, {2}, kFloat64);
  for (int step = 0; step <= 20; ++step) {
    const VjpResult r = vjp(rosenbrock, {p}, scalar_tensor(1.0, kFloat64));
    const auto g = r.vjp[0].to_vector<double>();
    const double norm = std::hypot(g[0], g[1]);
    const auto xy = p.to_vector<double>();
    fmt::print("step {:2d}  (x, y) = ({:+.10f}, {:+.10f})  f = {:.3e}  |grad| = {:.3e}\n", step,
               xy[0], xy[1], r.output.item(), norm);
    if (norm < 1e-10) break;
    // Solve H d = g for the 2x2 Hessian by Cramer's rule, then step.
    const auto h = hessian(rosenbrock, {p})[0][0].contiguous().to_vector<double>();
    const double det = h[0] * h[3] - h[1] * h[2];
    const double dx = (h[3] * g[0] - h[1] * g[1]) / det, dy = (h[0] * g[1] - h[2] * g[0]) / det;
    p = tensor({xy[0] - dx, xy[1] - dy}, {2}, kFloat64);
  }
  const auto xy = p.to_vector<double>();
  const bool found = std::abs(xy[0] - 1) < 1e-8 && std::abs(xy[1] - 1) < 1e-8;
  fmt::print("{}\n", found ? "Minimum (1, 1) found." : "Did not converge.");
  return found ? 0 : 1;
}
