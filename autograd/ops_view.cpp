// Views and copies. A view's backward maps gy back through the inverse view: reshape back,
// transpose back, or place gy into a zero tensor at the slice it came from (slice_backward,
// itself differentiable: its backward is the slice). Written generically, as in
// ops_elementwise.cpp.
#include "autograd/functions.h"
#include "autograd/node.h"

namespace seqgrad {

// y = x.view(shape);  dx = gy.reshape(x.shape)
Variable view(const Variable& x, const Dims& shape) {
  const Dims in = x.shape();
  return record("view", x.value().view(shape), {x},
                [in](const auto& gy, auto& dx) { dx[0] += gy.reshape(in); });
}

Variable reshape(const Variable& x, const Dims& shape) {
  const Dims in = x.shape();
  return record("reshape", x.value().reshape(shape), {x},
                [in](const auto& gy, auto& dx) { dx[0] += gy.reshape(in); });
}

// Swapping two dims is its own inverse.
Variable transpose(const Variable& x, std::int64_t d0, std::int64_t d1) {
  return record("transpose", x.value().transpose(d0, d1), {x},
                [d0, d1](const auto& gy, auto& dx) { dx[0] += gy.transpose(d0, d1); });
}

// The inverse permutation sends each dim back where it came from.
Variable permute(const Variable& x, const Dims& order) {
  Tensor y = x.value().permute(order);
  Dims inverse = Dims::filled(order.size(), 0);
  for (int i = 0; i < order.size(); ++i)
    inverse[normalize_dim(order[i], order.size(), "permute")] = i;
  return record("permute", y, {x},
                [inverse](const auto& gy, auto& dx) { dx[0] += gy.permute(inverse); });
}

// Slicing views: gy lands in the slice of a zero tensor of the input's shape.
Variable narrow(const Variable& x, std::int64_t dim, std::int64_t start, std::int64_t length) {
  const Dims in = x.shape();
  return record("narrow", x.value().narrow(dim, start, length), {x},
                [in, dim, start, length](const auto& gy, auto& dx) {
                  dx[0] += slice_backward(gy, in, dim, start, start + length, 1);
                });
}

Variable slice(const Variable& x, std::int64_t dim, std::int64_t start, std::int64_t end,
               std::int64_t step) {
  const Dims in = x.shape();
  return record("slice", x.value().slice(dim, start, end, step), {x},
                [in, dim, start, end, step](const auto& gy, auto& dx) {
                  dx[0] += slice_backward(gy, in, dim, start, end, step);
                });
}

Variable select(const Variable& x, std::int64_t dim, std::int64_t index) {
  const Dims in = x.shape();
  return record(
      "select", x.value().select(dim, index), {x},
      [in, dim, index](const auto& gy, auto& dx) { dx[0] += select_backward(gy, in, dim, index); });
}

Tensor slice_backward(const Tensor& gy, const Dims& in, std::int64_t dim, std::int64_t start,
                      std::int64_t end, std::int64_t step) {
  Tensor g = zeros(in, gy.dtype());
  g.slice(dim, start, end, step).copy_(gy);
  return g;
}
Variable slice_backward(const Variable& gy, const Dims& in, std::int64_t dim, std::int64_t start,
                        std::int64_t end, std::int64_t step) {
  return record("slice_backward", slice_backward(gy.value(), in, dim, start, end, step), {gy},
                [dim, start, end, step](const auto& g, auto& dx) {
                  dx[0] += g.slice(dim, start, end, step);
                });
}

Tensor select_backward(const Tensor& gy, const Dims& in, std::int64_t dim, std::int64_t index) {
  Tensor g = zeros(in, gy.dtype());
  g.select(dim, index).copy_(gy);
  return g;
}
Variable select_backward(const Variable& gy, const Dims& in, std::int64_t dim, std::int64_t index) {
  return record("select_backward", select_backward(gy.value(), in, dim, index), {gy},
                [dim, index](const auto& g, auto& dx) { dx[0] += g.select(dim, index); });
}

Variable unsqueeze(const Variable& x, std::int64_t dim) {
  const Dims in = x.shape();
  return record("unsqueeze", x.value().unsqueeze(dim), {x},
                [in](const auto& gy, auto& dx) { dx[0] += gy.reshape(in); });
}

Variable squeeze(const Variable& x) {
  const Dims in = x.shape();
  return record("squeeze", x.value().squeeze(), {x},
                [in](const auto& gy, auto& dx) { dx[0] += gy.reshape(in); });
}

Variable squeeze(const Variable& x, std::int64_t dim) {
  const Dims in = x.shape();
  return record("squeeze", x.value().squeeze(dim), {x},
                [in](const auto& gy, auto& dx) { dx[0] += gy.reshape(in); });
}

// y = x broadcast to shape;  dx = gy summed over the broadcast dims (the slot does the summing)
Variable expand(const Variable& x, const Dims& shape) {
  return record("expand", x.value().expand(shape), {x},
                [](const auto& gy, auto& dx) { dx[0] += gy; });
}

Variable contiguous(const Variable& x) {
  if (x.value().is_contiguous()) return x;
  return record("contiguous", x.value().contiguous(), {x},
                [](const auto& gy, auto& dx) { dx[0] += gy; });
}

Variable clone(const Variable& x) {
  return record("clone", x.value().clone(), {x}, [](const auto& gy, auto& dx) { dx[0] += gy; });
}

// A cast: the gradient is cast back to the input's dtype.
Variable to(const Variable& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  const DType from = x.dtype();
  return record("to", x.value().to(dtype), {x},
                [from](const auto& gy, auto& dx) { dx[0] += gy.to(from); });
}

Variable Variable::view(const Dims& shape) const { return seqgrad::view(*this, shape); }
Variable Variable::reshape(const Dims& shape) const { return seqgrad::reshape(*this, shape); }
Variable Variable::transpose(std::int64_t d0, std::int64_t d1) const {
  return seqgrad::transpose(*this, d0, d1);
}
Variable Variable::t() const {
  check(dim() <= 2, "t: expects a tensor of rank <= 2, got shape {}", shape());
  return dim() < 2 ? *this : seqgrad::transpose(*this, 0, 1);
}
Variable Variable::permute(const Dims& order) const { return seqgrad::permute(*this, order); }
Variable Variable::narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const {
  return seqgrad::narrow(*this, dim, start, length);
}
Variable Variable::slice(std::int64_t dim, std::int64_t start, std::int64_t end,
                         std::int64_t step) const {
  return seqgrad::slice(*this, dim, start, end, step);
}
Variable Variable::select(std::int64_t dim, std::int64_t index) const {
  return seqgrad::select(*this, dim, index);
}
Variable Variable::unsqueeze(std::int64_t dim) const { return seqgrad::unsqueeze(*this, dim); }
Variable Variable::squeeze() const { return seqgrad::squeeze(*this); }
Variable Variable::squeeze(std::int64_t dim) const { return seqgrad::squeeze(*this, dim); }
Variable Variable::expand(const Dims& shape) const { return seqgrad::expand(*this, shape); }
Variable Variable::contiguous() const { return seqgrad::contiguous(*this); }
Variable Variable::clone() const { return seqgrad::clone(*this); }
Variable Variable::to(DType dtype) const { return seqgrad::to(*this, dtype); }

}  // namespace seqgrad
