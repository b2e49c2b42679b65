#include "tensor/shape_ops.h"

#include <cstring>

#include "tensor/iterate.h"

namespace seqgrad {

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim_) {
  check(!tensors.empty(), "cat: expects at least one tensor");
  const Tensor& first = tensors[0];
  check_defined(first, "cat");
  check(first.dim() > 0, "cat: zero-dimensional tensors cannot be concatenated");
  const int dim = normalize_dim(dim_, first.dim(), "cat");
  Dims shape = first.shape();
  std::int64_t total = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    check_defined(t, "cat");
    check(t.dtype() == first.dtype(), "cat: tensor {} has dtype {}, tensor 0 has {}", i, t.dtype(),
          first.dtype());
    check(t.dim() == first.dim(), "cat: tensor {} has shape {}, tensor 0 has {}", i, t.shape(),
          first.shape());
    for (int d = 0; d < t.dim(); ++d)
      check(d == dim || t.size(d) == first.size(d),
            "cat: tensor {} has shape {}, tensor 0 has {}: sizes must match except in dim {}", i,
            t.shape(), first.shape(), dim);
    total += t.size(dim);
  }
  shape[dim] = total;
  Tensor out = Tensor::empty(shape, first.dtype());
  std::int64_t offset = 0;
  for (const Tensor& t : tensors) {
    if (t.size(dim) > 0) out.narrow(dim, offset, t.size(dim)).copy_(t);
    offset += t.size(dim);
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
  check(!tensors.empty(), "stack: expects at least one tensor");
  check_defined(tensors[0], "stack");
  const int rank = tensors[0].dim();
  check(dim >= -(rank + 1) && dim <= rank, "stack: dim {} is out of range for rank {}", dim, rank);
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    check_defined(tensors[i], "stack");
    check(tensors[i].shape() == tensors[0].shape(),
          "stack: tensor {} has shape {}, tensor 0 has {}", i, tensors[i].shape(),
          tensors[0].shape());
    parts.push_back(tensors[i].unsqueeze(dim));
  }
  return cat(parts, dim < 0 ? dim + rank + 1 : dim);
}

std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim_) {
  check_defined(x, "split");
  check(split_size > 0, "split: split_size must be positive, got {}", split_size);
  const int dim = normalize_dim(dim_, x.dim(), "split");
  std::vector<Tensor> out;
  for (std::int64_t start = 0; start < x.size(dim); start += split_size)
    out.push_back(x.narrow(dim, start, std::min(split_size, x.size(dim) - start)));
  if (out.empty()) out.push_back(x);
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim) {
  check_defined(x, "chunk");
  check(chunks > 0, "chunk: number of chunks must be positive, got {}", chunks);
  const std::int64_t n = x.size(normalize_dim(dim, x.dim(), "chunk"));  // a bad dim names chunk
  return split(x, std::max<std::int64_t>((n + chunks - 1) / chunks, 1), dim);
}

namespace {

void check_index(const Tensor& index, const char* op) {
  check_defined(index, op);
  check(index.dtype() == kInt64, "{}: index must be int64, got {}", op, index.dtype());
}

}  // namespace

Tensor index_select(const Tensor& x, std::int64_t dim_, const Tensor& index) {
  check_defined(x, "index_select");
  check_index(index, "index_select");
  check(index.dim() <= 1, "index_select: index must be 1-D, got shape {}", index.shape());
  const int dim = normalize_dim(dim_, x.dim(), "index_select");
  const Tensor idx = index.contiguous();
  const auto* ip = idx.data<std::int64_t>();
  const std::int64_t n = idx.numel(), size = x.dim() == 0 ? 1 : x.size(dim);
  for (std::int64_t i = 0; i < n; ++i)
    check(ip[i] >= 0 && ip[i] < size,
          "index_select: index {} is out of range for dim {} of size {} (shape {})", ip[i], dim,
          size, x.shape());
  Dims shape = x.shape();
  if (x.dim() == 0)
    return x.view({1}).expand({n}).clone().view(index.dim() == 0 ? Dims{} : Dims{n});
  shape[dim] = n;
  Tensor out = Tensor::empty(shape, x.dtype());
  if (dim == 0 && x.is_contiguous()) {
    // Rows are contiguous blocks: one memcpy each (the embedding lookup path).
    const std::size_t row =
        static_cast<std::size_t>(x.numel() / std::max<std::int64_t>(size, 1)) * itemsize(x.dtype());
    auto* src = static_cast<const char*>(x.raw_data());
    auto* dst = static_cast<char*>(out.raw_data());
    for (std::int64_t i = 0; i < n; ++i) std::memcpy(dst + i * row, src + ip[i] * row, row);
    return out;
  }
  for (std::int64_t i = 0; i < n; ++i) out.select(dim, i).copy_(x.select(dim, ip[i]));
  return out;
}

const Tensor& index_add_(const Tensor& target, std::int64_t dim_, const Tensor& index,
                         const Tensor& src) {
  check_defined(target, "index_add_");
  check_defined(src, "index_add_");
  check_index(index, "index_add_");
  check(index.dim() <= 1, "index_add_: index must be 1-D, got shape {}", index.shape());
  check(target.dim() > 0, "index_add_: target must have at least one dim");
  const int dim = normalize_dim(dim_, target.dim(), "index_add_");
  const Tensor idx = index.contiguous();
  const std::int64_t n = idx.numel();
  Dims expected = target.shape();
  expected[dim] = n;
  check(src.shape() == expected, "index_add_: source shape {} should be {} (target {}, {} indices)",
        src.shape(), expected, target.shape(), n);
  check(src.dtype() == target.dtype(), "index_add_: dtypes {} and {} differ", target.dtype(),
        src.dtype());
  const auto* ip = idx.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i)
    check(ip[i] >= 0 && ip[i] < target.size(dim),
          "index_add_: index {} is out of range for dim {} of size {}", ip[i], dim,
          target.size(dim));
  target.bump_version();
  if (dim == 0 && target.is_contiguous() && src.is_contiguous()) {
    const std::int64_t row = target.numel() / std::max<std::int64_t>(target.size(0), 1);
    dispatch_numeric(target.dtype(), "index_add_", [&]<class T>() {
      T* t = target.data<T>();
      const T* s = src.data<T>();
      for (std::int64_t i = 0; i < n; ++i) {
        T* dst = t + ip[i] * row;
        const T* from = s + i * row;
        for (std::int64_t j = 0; j < row; ++j) dst[j] += from[j];
      }
    });
    return target;
  }
  for (std::int64_t i = 0; i < n; ++i) target.select(dim, ip[i]).add_(src.select(dim, i));
  return target;
}

namespace {

// Shared by gather and scatter_add: checks the index against x and returns x seen with the
// index's shape and a zero stride along `dim` (the index supplies that coordinate).
Tensor indexed_view(const Tensor& x, int dim, const Tensor& index, const char* op) {
  check(index.dim() == x.dim(), "{}: index of shape {} must have the same rank as {}", op,
        index.shape(), x.shape());
  for (int d = 0; d < x.dim(); ++d)
    check(d == dim || index.size(d) <= x.size(d), "{}: index shape {} exceeds {} in dim {}", op,
          index.shape(), x.shape(), d);
  Dims strides = x.strides();
  strides[dim] = 0;
  return Tensor(x.storage(), index.shape(), strides, x.offset(), x.dtype());
}

template <class T, class F>
void walk_indexed(const Tensor& a, const Tensor& index, const Tensor& b, std::int64_t dim_size,
                  std::int64_t dim_stride, const char* op, F f) {
  const Dims& shape = index.shape();
  detail::for_each_row<3>(
      shape,
      {static_cast<char*>(a.raw_data()), static_cast<char*>(index.raw_data()),
       static_cast<char*>(b.raw_data())},
      {detail::byte_strides(a, shape, op), detail::byte_strides(index, shape, op),
       detail::byte_strides(b, shape, op)},
      [&](detail::Ptrs<3> p, detail::Steps<3> s, std::int64_t n) {
        for (std::int64_t i = 0; i < n; ++i) {
          const std::int64_t k = *reinterpret_cast<const std::int64_t*>(p[1] + i * s[1]);
          check(k >= 0 && k < dim_size, "{}: index {} is out of range for a dim of size {}", op, k,
                dim_size);
          f(reinterpret_cast<T*>(p[0] + i * s[0]) + k * dim_stride,
            reinterpret_cast<T*>(p[2] + i * s[2]));
        }
      });
}

}  // namespace

Tensor gather(const Tensor& x, std::int64_t dim_, const Tensor& index) {
  check_defined(x, "gather");
  check_index(index, "gather");
  check(x.dim() > 0, "gather: cannot gather from a 0-d tensor");
  const int dim = normalize_dim(dim_, x.dim(), "gather");
  Tensor xv = indexed_view(x, dim, index, "gather");
  Tensor out = Tensor::empty(index.shape(), x.dtype());
  const std::int64_t size = x.size(dim), stride = x.stride(dim);
  dispatch(x.dtype(), [&]<class T>() {
    walk_indexed<T>(xv, index, out, size, stride, "gather", [](T* from, T* to) { *to = *from; });
  });
  return out;
}

const Tensor& scatter_add_(const Tensor& target, std::int64_t dim_, const Tensor& index,
                           const Tensor& src) {
  check_defined(target, "scatter_add_");
  check_defined(src, "scatter_add_");
  check_index(index, "scatter_add_");
  check(src.dtype() == target.dtype(), "scatter_add_: dtypes {} and {} differ", target.dtype(),
        src.dtype());
  check(src.shape() == index.shape(), "scatter_add_: src shape {} must equal index shape {}",
        src.shape(), index.shape());
  check(target.dim() > 0, "scatter_add_: cannot scatter into a 0-d tensor");
  const int dim = normalize_dim(dim_, target.dim(), "scatter_add_");
  Tensor tv = indexed_view(target, dim, index, "scatter_add_");
  target.bump_version();
  const std::int64_t size = target.size(dim), stride = target.stride(dim);
  dispatch_numeric(target.dtype(), "scatter_add_", [&]<class T>() {
    walk_indexed<T>(tv, index, src, size, stride, "scatter_add_",
                    [](T* to, T* from) { *to += *from; });
  });
  return target;
}

}  // namespace seqgrad
