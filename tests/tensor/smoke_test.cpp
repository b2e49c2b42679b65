#include "helpers.h"

using namespace seqgrad;
using seqgrad::testing::expect_values;

TEST_CASE("smoke: add broadcasts a row over a matrix") {
  Tensor a = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = tensor({10, 20, 30}, {3});
  expect_values(a + b, {2, 3}, {11, 22, 33, 14, 25, 36});
}
