#include "tensor/dims.h"

#include <algorithm>

namespace seqgrad {

Dims contiguous_strides(const Dims& shape) {
  Dims strides = Dims::filled(shape.size(), 1);
  for (int i = shape.size() - 2; i >= 0; --i) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

int normalize_dim(std::int64_t dim, int rank, const char* op) {
  // A scalar still accepts dim 0 / -1, as in PyTorch.
  const int extent = rank == 0 ? 1 : rank;
  check(dim >= -extent && dim < extent, "{}: dim {} is out of range for a tensor of rank {}", op,
        dim, rank);
  return static_cast<int>(dim < 0 ? dim + extent : dim);
}

Dims broadcast_shapes(const Dims& a, const Dims& b, const char* op) {
  const int n = std::max(a.size(), b.size());
  Dims out = Dims::filled(n, 1);
  for (int i = 0; i < n; ++i) {
    const int ia = a.size() - n + i, ib = b.size() - n + i;
    const std::int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    check(da == db || da == 1 || db == 1, "{}: shapes {} and {} cannot be broadcast together", op,
          a, b);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace seqgrad
