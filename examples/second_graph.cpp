// The graph of a derivative: grad() with create_graph records the backward pass of
// e = tanh(x * x), and the recorded gradient de/dx = 2x (1 - e^2) is a graph like any other,
// which to_dot prints and grad() differentiates again. docs/autograd.md, section 11, shows it.
#include <fmt/core.h>

#include <cmath>

#include "seqgrad.h"

using namespace seqgrad;

int main() {
  Variable x(scalar_tensor(0.5, kFloat64), /*requires_grad=*/true);
  x.set_name("x");
  Variable e = tanh(x * x);
  e.set_name("e");

  // de/dx = 2x (1 - e^2), recorded: tanh's backward read e through dx.output(e), so the tanh
  // node appears again, as an input of the derivative's graph.
  Variable dedx = grad({e}, {x}, {}, {.create_graph = true})[0];
  dedx.set_name("de/dx");
  // d2e/dx2 = 2 (1 - e^2) - 8 x^2 e (1 - e^2)
  const Variable d2 = grad({dedx}, {x})[0];

  const double t = std::tanh(0.25);
  fmt::print("e        = {:.6f}\n", e.item());
  fmt::print("de/dx    = {:.6f}  (by hand {:.6f})\n", dedx.item(), 2 * 0.5 * (1 - t * t));
  fmt::print("d2e/dx2  = {:.6f}  (by hand {:.6f})\n", d2.item(),
             2 * (1 - t * t) - 8 * 0.25 * t * (1 - t * t));
  fmt::print("\n{}", to_dot(dedx));
}
