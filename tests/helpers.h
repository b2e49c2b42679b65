// Small helpers shared by the tests: compare a tensor with expected values written out by hand.
#pragma once

#include <doctest/doctest.h>

#include <vector>

#include "tensor/all.h"

namespace seqgrad::testing {

// Checks shape and every value (within tol) and reports the first mismatch.
inline void expect_values(const Tensor& t, const Dims& shape, const std::vector<double>& expected,
                          double tol = 1e-6) {
  REQUIRE(t.defined());
  CHECK_MESSAGE(t.shape() == shape, fmt::format("shape {} != expected {}", t.shape(), shape));
  const auto got = t.to(kFloat64).to_vector<double>();
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    CHECK_MESSAGE(got[i] == doctest::Approx(expected[i]).epsilon(tol),
                  fmt::format("element {}: got {}, expected {}", i, got[i], expected[i]));
}

}  // namespace seqgrad::testing
