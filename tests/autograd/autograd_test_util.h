// Shared by the autograd tests: seeded float64 inputs shaped for gradcheck (kept away from the
// kinks and ties where finite differences are meaningless) and a shorthand for int64 indices.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "autograd/all.h"
#include "helpers.h"

namespace seqgrad::testing {

// Standard normal float64 values.
inline Tensor normal64(const Dims& shape, Generator& gen) { return randn(shape, kFloat64, &gen); }

// Uniform float64 values in [low, high).
inline Tensor uniform64(const Dims& shape, double low, double high, Generator& gen) {
  return rand(shape, kFloat64, &gen) * (high - low) + low;
}

// Magnitudes in [0.2, 1.2) with random signs: far from 0, where abs and relu have a kink.
inline Tensor away_from_zero64(const Dims& shape, Generator& gen) {
  return uniform64(shape, 0.2, 1.2, gen) * sign(randn(shape, kFloat64, &gen));
}

// gradcheck, with an exception turned into a failed result, so that one broken case in a table
// of cases is reported without hiding the cases after it.
inline GradcheckResult run_gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                                     const GradcheckOptions& options = {}) {
  try {
    return gradcheck(fn, inputs, options);
  } catch (const std::exception& e) {
    GradcheckResult r;
    r.ok = false;
    r.report = std::string("threw: ") + e.what();
    return r;
  }
}

// gradcheck, then gradgradcheck: the op tables check the first and the second derivative of
// every op (an exception is a failed result, as above).
inline GradcheckResult run_gradchecks(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                                      const GradcheckOptions& options = {}) {
  GradcheckResult r = run_gradcheck(fn, inputs, options);
  if (!r.ok) return r;
  try {
    return gradgradcheck(fn, inputs, options);
  } catch (const std::exception& e) {
    r.ok = false;
    r.report = std::string("gradgradcheck threw: ") + e.what();
    return r;
  }
}

// A float64 tensor written out by hand.
inline Tensor f64(const std::vector<double>& values, const Dims& shape) {
  return from_vector(values, shape);
}

// An int64 index tensor written out by hand.
inline Tensor i64(const std::vector<std::int64_t>& values, const Dims& shape) {
  return from_vector(values, shape);
}

}  // namespace seqgrad::testing
