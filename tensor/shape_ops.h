// Joining, splitting and indexing: cat, stack, split, chunk, index_select, gather and their
// scatter counterparts (which the backward passes of the indexing ops use).
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace seqgrad {

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
// Views of consecutive pieces of `split_size` along dim (the last may be shorter).
std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim = 0);

// out.select(dim, i) = x.select(dim, index[i]) for a 1-D int64 index.
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);
// target.select(dim, index[i]) += src.select(dim, i), in place (repeated indices accumulate).
const Tensor& index_add_(const Tensor& target, std::int64_t dim, const Tensor& index,
                         const Tensor& src);

// out[i][j] = x[index[i][j]][j] for dim 0 (and likewise for other dims); index has x's rank.
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);
// target[index[i][j]][j] += src[i][j] for dim 0, in place.
const Tensor& scatter_add_(const Tensor& target, std::int64_t dim, const Tensor& index,
                           const Tensor& src);

}  // namespace seqgrad
