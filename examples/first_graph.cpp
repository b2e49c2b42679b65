// The smallest complete use of seqgrad's autograd: build an expression, run backward, read the
// gradients, and print the graph. docs/autograd.md walks through it line by line.
#include <fmt/core.h>

#include "seqgrad.h"

using namespace seqgrad;

int main() {
  Variable a(scalar_tensor(2.0, kFloat64), /*requires_grad=*/true);
  Variable b(scalar_tensor(-3.0, kFloat64), /*requires_grad=*/true);
  a.set_name("a");
  b.set_name("b");

  Variable c = a * b;      // -6
  Variable d = c + b * b;  //  3
  Variable e = tanh(d);    //  tanh(3)
  e.set_name("e");

  e.backward();  // de/da = (1 - e^2) * b,  de/db = (1 - e^2) * (a + 2b)

  fmt::print("e     = {:.6f}\n", e.item());
  fmt::print("de/da = {:.6f}\n", a.grad().item());
  fmt::print("de/db = {:.6f}\n", b.grad().item());
  fmt::print("\n{}", to_dot(e));
}
