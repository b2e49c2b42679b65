#include "autograd/all.h"
#include "helpers.h"

using namespace seqgrad;

TEST_CASE("smoke: gradient of x*x is 2x") {
  Variable x(tensor({3.0}, {1}, kFloat64), true);
  sum(x * x).backward();
  CHECK(x.grad().item() == doctest::Approx(6.0));
}
