// Reductions over one or more dims (keepdim keeps them as size 1), and the normalisations built on
// them. An empty dim list reduces over every dim, as torch.sum(x) does.
#pragma once

#include <utility>

#include "tensor/tensor.h"

namespace seqgrad {

Tensor sum(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor amax(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
// log(sum(exp(x))) computed stably as m + log(sum(exp(x - m))) with m = amax(x).
Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim = false);

// Along one dim: values and int64 indices of the first maximum (minimum).
std::pair<Tensor, Tensor> max(const Tensor& x, std::int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim = false);

// Numerically stable: the maximum along `dim` is subtracted before exponentiating.
Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);

// The shape a reduction over `dims` produces, and the normalised, sorted, de-duplicated dims.
Dims reduced_shape(const Dims& shape, const Dims& dims, bool keepdim, const char* op,
                   Dims* normalized = nullptr);

}  // namespace seqgrad
