// Joining and indexing. Each backward routes gy back to where the values came from:
// cat splits it, index_select and gather scatter-add it (repeated indices accumulate). Written
// generically, as in ops_elementwise.cpp; the scatter-adds are differentiable ops of their own.
#include "autograd/functions.h"
#include "autograd/node.h"

namespace seqgrad {

// y = [x0, x1, ...] along dim;  dxi = the slice of gy that xi filled
Variable cat(const std::vector<Variable>& xs, std::int64_t dim) {
  std::vector<Tensor> values;
  values.reserve(xs.size());
  for (const Variable& x : xs) {
    check(x.defined(), "cat: an input variable is undefined");
    values.push_back(x.value());
  }
  Tensor y = cat(values, dim);
  const int d = normalize_dim(dim, y.dim(), "cat");
  std::vector<std::int64_t> sizes;
  for (const Tensor& v : values) sizes.push_back(v.size(d));
  return record_many("cat", y, xs, [d, sizes](const auto& gy, auto& dx) {
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      if (dx.needed(static_cast<int>(i))) dx[static_cast<int>(i)] += gy.narrow(d, offset, sizes[i]);
      offset += sizes[i];
    }
  });
}

// stack = unsqueeze each, then cat: both differentiable, so no backward of its own.
Variable stack(const std::vector<Variable>& xs, std::int64_t dim) {
  check(!xs.empty(), "stack: expects at least one tensor");
  const int rank = xs[0].dim();
  check(dim >= -(rank + 1) && dim <= rank, "stack: dim {} is out of range for rank {}", dim, rank);
  std::vector<Variable> parts;
  parts.reserve(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    check(xs[i].shape() == xs[0].shape(), "stack: tensor {} has shape {}, tensor 0 has {}", i,
          xs[i].shape(), xs[0].shape());
    parts.push_back(unsqueeze(xs[i], dim));
  }
  return cat(parts, dim < 0 ? dim + rank + 1 : dim);
}

// Pieces are narrow views: differentiable through narrow's backward.
std::vector<Variable> split(const Variable& x, std::int64_t split_size, std::int64_t dim) {
  check(split_size > 0, "split: split_size must be positive, got {}", split_size);
  const int d = normalize_dim(dim, x.dim(), "split");
  const std::int64_t n = x.size(d);
  std::vector<Variable> out;
  for (std::int64_t start = 0; start < n; start += split_size)
    out.push_back(narrow(x, d, start, std::min(split_size, n - start)));
  if (out.empty()) out.push_back(x);
  return out;
}

std::vector<Variable> chunk(const Variable& x, std::int64_t chunks, std::int64_t dim) {
  check(chunks > 0, "chunk: number of chunks must be positive, got {}", chunks);
  const std::int64_t n = x.size(dim);
  return split(x, std::max<std::int64_t>((n + chunks - 1) / chunks, 1), dim);
}

// y = x[index] along dim;  dx[index[i]] += gy[i]
Variable index_select(const Variable& x, std::int64_t dim, const Tensor& index) {
  const Dims in = x.shape();
  return record("index_select", index_select(x.value(), dim, index), {x},
                [in, dim, index](const auto& gy, auto& dx) {
                  dx[0] += index_select_backward(gy, in, dim, index);
                },
                {index});
}

// y[i][j] = x[index[i][j]][j] (dim 0);  dx[index[i][j]][j] += gy[i][j]
Variable gather(const Variable& x, std::int64_t dim, const Tensor& index) {
  const Dims in = x.shape();
  return record(
      "gather", gather(x.value(), dim, index), {x},
      [in, dim, index](const auto& gy, auto& dx) { dx[0] += gather_backward(gy, in, dim, index); },
      {index});
}

// The scatter-adds are linear in gy; their backward reads gy's values back from where they went.
Tensor index_select_backward(const Tensor& gy, const Dims& in, std::int64_t dim,
                             const Tensor& index) {
  Tensor g = zeros(in, gy.dtype());
  index_add_(g, dim, index, gy.contiguous());
  return g;
}
Variable index_select_backward(const Variable& gy, const Dims& in, std::int64_t dim,
                               const Tensor& index) {
  return record("index_select_backward", index_select_backward(gy.value(), in, dim, index), {gy},
                [dim, index](const auto& g, auto& dx) { dx[0] += index_select(g, dim, index); },
                {index});
}

Tensor gather_backward(const Tensor& gy, const Dims& in, std::int64_t dim, const Tensor& index) {
  Tensor g = zeros(in, gy.dtype());
  scatter_add_(g, dim, index, gy);
  return g;
}
Variable gather_backward(const Variable& gy, const Dims& in, std::int64_t dim,
                         const Tensor& index) {
  return record("gather_backward", gather_backward(gy.value(), in, dim, index), {gy},
                [dim, index](const auto& g, auto& dx) { dx[0] += gather(g, dim, index); }, {index});
}

}  // namespace seqgrad
