// Making tensors: constant fills, ranges, identity, random draws, and tensors from C++ data.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace seqgrad {

Tensor empty(const Dims& shape, DType dtype = kFloat32);
Tensor zeros(const Dims& shape, DType dtype = kFloat32);
Tensor ones(const Dims& shape, DType dtype = kFloat32);
Tensor full(const Dims& shape, double value, DType dtype = kFloat32);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor scalar_tensor(double value, DType dtype = kFloat32);  // 0-d

// [start, end) in steps of `step`, like torch.arange; int64 when every argument is integral
// and dtype is Int64, otherwise the given dtype.
// Without a dtype: int64 when start, end and step are all whole numbers, else float32.
Tensor arange(double start, double end, double step = 1.0, std::optional<DType> dtype = {});
Tensor arange(std::int64_t end, DType dtype = kInt64);
Tensor linspace(double start, double end, std::int64_t steps, DType dtype = kFloat32);
Tensor eye(std::int64_t n, DType dtype = kFloat32);

// Random draws; `gen` defaults to default_generator().
Tensor rand(const Dims& shape, DType dtype = kFloat32, Generator* gen = nullptr);   // U[0, 1)
Tensor randn(const Dims& shape, DType dtype = kFloat32, Generator* gen = nullptr);  // N(0, 1)
Tensor randint(std::int64_t low, std::int64_t high, const Dims& shape, Generator* gen = nullptr);
Tensor randperm(std::int64_t n, Generator* gen = nullptr);
// Dropout's scaled keep mask: each value 1 / (1 - p) with probability 1 - p, else 0 (p in [0, 1),
// resolved to 2^-24). One draw from `gen` seeds a counter-based stream (a 32-bit hash of each
// element's index and the seed), so every range of elements is computed on its own: the threads
// share the work, it vectorises, and the mask is the same at any thread count. (rand() draws one
// sequential stream, element by element.)
Tensor dropout_mask(const Dims& shape, double p, DType dtype = kFloat32, Generator* gen = nullptr);
// In-place fills used by initialisers.
const Tensor& uniform_(const Tensor& t, double low, double high, Generator* gen = nullptr);
const Tensor& normal_(const Tensor& t, double mean, double std, Generator* gen = nullptr);

// From C++ data (copied). The element count must match the shape; an empty shape means 1-D
// (use scalar_tensor for a 0-d tensor).
Tensor from_vector(const std::vector<float>& data, const Dims& shape);
Tensor from_vector(const std::vector<double>& data, const Dims& shape);
Tensor from_vector(const std::vector<std::int64_t>& data, const Dims& shape);
// tensor({1, 2, 3, 4}, {2, 2}) is float32 unless a dtype is given; shape defaults to 1-D.
Tensor tensor(std::initializer_list<double> values, const Dims& shape = {}, DType dtype = kFloat32);

}  // namespace seqgrad
