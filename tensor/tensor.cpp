#include "tensor/tensor.h"

#include <algorithm>

#include "tensor/iterate.h"
#include "tensor/pool.h"

namespace seqgrad {

Tensor::Tensor(std::shared_ptr<Storage> storage, Dims shape, Dims strides, std::int64_t offset,
               DType dtype)
    : storage_(std::move(storage)),
      shape_(shape),
      strides_(strides),
      offset_(offset),
      dtype_(dtype) {}

Tensor Tensor::empty(const Dims& shape, DType dtype) {
  for (auto s : shape) check(s >= 0, "empty: negative size in shape {}", shape);
  const auto nbytes = static_cast<std::size_t>(shape.numel()) * itemsize(dtype);
  return Tensor(std::allocate_shared<Storage>(PoolAllocator<Storage>(), nbytes), shape,
                contiguous_strides(shape), 0, dtype);
}

void check_defined(const Tensor& t, const char* op) {
  check(t.defined(), "{}: the tensor is undefined (default-constructed)", op);
}

std::int64_t Tensor::size(std::int64_t d) const {
  check_defined(*this, "size");
  return shape_[normalize_dim(d, dim(), "size")];
}
std::int64_t Tensor::stride(std::int64_t d) const {
  check_defined(*this, "stride");
  return strides_[normalize_dim(d, dim(), "stride")];
}

bool Tensor::is_contiguous() const {
  std::int64_t expected = 1;
  for (int d = dim() - 1; d >= 0; --d) {
    if (shape_[d] == 1) continue;  // the stride of a size-1 dim never matters
    if (strides_[d] != expected) return false;
    expected *= shape_[d];
  }
  return true;
}

double Tensor::item() const {
  check_defined(*this, "item");
  check(numel() == 1, "item: tensor has {} elements (shape {}); item() needs exactly one", numel(),
        shape_);
  return dispatch(dtype_, [&]<class T>() { return static_cast<double>(*data<T>()); });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  check_defined(*this, "to_vector");
  std::vector<T> out(static_cast<std::size_t>(numel()));
  if (out.empty()) return out;
  const Dims shape = shape_;
  dispatch(dtype_, [&]<class S>() {
    detail::for_each_row<2>(shape,
                            {reinterpret_cast<char*>(out.data()), static_cast<char*>(raw_data())},
                            {[&] {
                               Dims s = contiguous_strides(shape);
                               for (auto& v : s) v *= sizeof(T);
                               return s;
                             }(),
                             detail::byte_strides(*this, shape, "to_vector")},
                            [](detail::Ptrs<2> p, detail::Steps<2> s, std::int64_t n) {
                              for (std::int64_t i = 0; i < n; ++i)
                                *reinterpret_cast<T*>(p[0] + i * s[0]) =
                                    static_cast<T>(*reinterpret_cast<const S*>(p[1] + i * s[1]));
                            });
  });
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;

// ----------------------------------------------------------------------------------------------
// Views

namespace {

// Resolves one -1 in a requested shape; checks the element count.
Dims infer_shape(const Dims& requested, std::int64_t numel, const char* op, const Dims& from) {
  Dims shape = requested;
  int infer = -1;
  std::int64_t known = 1;
  for (int i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      check(infer < 0, "{}: only one dimension can be -1, got {}", op, requested);
      infer = i;
    } else {
      check(shape[i] >= 0, "{}: invalid size {} in shape {}", op, shape[i], requested);
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    check(known != 0 && numel % known == 0, "{}: shape {} is invalid for input of shape {}", op,
          requested, from);
    shape[infer] = numel / known;
  }
  check(shape.numel() == numel, "{}: shape {} is invalid for input of shape {} ({} elements)", op,
        requested, from, numel);
  return shape;
}

// Strides that view (old_shape, old_strides) as new_shape without copying, if they exist:
// each group of old dims that maps onto a group of new dims must be contiguous within itself.
bool view_strides(const Dims& old_shape, const Dims& old_strides, const Dims& new_shape,
                  Dims& new_strides) {
  new_strides = Dims::filled(new_shape.size(), 1);
  if (old_shape.numel() == 0) {
    new_strides = contiguous_strides(new_shape);
    return true;
  }
  int oi = 0, ni = 0;
  const int on = old_shape.size(), nn = new_shape.size();
  while (oi < on || ni < nn) {
    // Skip size-1 dims on both sides (their strides are free).
    if (ni < nn && new_shape[ni] == 1) {
      new_strides[ni] = 1;
      ++ni;
      continue;
    }
    if (oi < on && old_shape[oi] == 1) {
      ++oi;
      continue;
    }
    if (oi >= on || ni >= nn) return false;
    // Grow a group of old dims and a group of new dims until their sizes match.
    std::int64_t osize = old_shape[oi], nsize = new_shape[ni];
    int o_end = oi + 1, n_end = ni + 1;
    while (osize != nsize) {
      if (osize < nsize) {
        if (o_end >= on) return false;
        if (old_shape[o_end] == 1) {
          ++o_end;
          continue;
        }
        // The old group must be contiguous in itself to be split differently.
        int prev = o_end - 1;
        while (old_shape[prev] == 1) --prev;
        if (old_strides[prev] != old_strides[o_end] * old_shape[o_end]) return false;
        osize *= old_shape[o_end++];
      } else {
        if (n_end >= nn) return false;
        nsize *= new_shape[n_end++];
      }
    }
    // Check the old group is contiguous and find its innermost stride.
    int last = o_end - 1;
    while (old_shape[last] == 1) --last;
    for (int d = oi; d < last; ++d) {
      if (old_shape[d] == 1) continue;
      int next = d + 1;
      while (old_shape[next] == 1) ++next;
      if (old_strides[d] != old_strides[next] * old_shape[next]) return false;
    }
    std::int64_t stride = old_strides[last];
    for (int d = n_end - 1; d >= ni; --d) {
      new_strides[d] = stride;
      stride *= new_shape[d];
    }
    oi = o_end;
    ni = n_end;
  }
  return true;
}

}  // namespace

Tensor Tensor::view(const Dims& shape) const {
  check_defined(*this, "view");
  Dims new_shape = infer_shape(shape, numel(), "view", shape_);
  Dims new_strides;
  check(view_strides(shape_, strides_, new_shape, new_strides),
        "view: cannot view a tensor of shape {} and strides {} as {} without copying; "
        "use reshape()",
        shape_, strides_, new_shape);
  return Tensor(storage_, new_shape, new_strides, offset_, dtype_);
}

Tensor Tensor::reshape(const Dims& shape) const {
  check_defined(*this, "reshape");
  Dims new_shape = infer_shape(shape, numel(), "reshape", shape_);
  Dims new_strides;
  if (view_strides(shape_, strides_, new_shape, new_strides))
    return Tensor(storage_, new_shape, new_strides, offset_, dtype_);
  return contiguous().view(new_shape);
}

Tensor Tensor::transpose(std::int64_t d0, std::int64_t d1) const {
  check_defined(*this, "transpose");
  const int a = normalize_dim(d0, dim(), "transpose"), b = normalize_dim(d1, dim(), "transpose");
  Dims sh = shape_, st = strides_;
  if (dim() > 0) {
    std::swap(sh[a], sh[b]);
    std::swap(st[a], st[b]);
  }
  return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::t() const {
  check_defined(*this, "t");  // an undefined tensor has rank 0 and would pass the check below
  check(dim() <= 2, "t: expects a tensor of rank <= 2, got shape {}", shape_);
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::permute(const Dims& order) const {
  check_defined(*this, "permute");
  check(order.size() == dim(), "permute: order {} has {} entries for a tensor of rank {}", order,
        order.size(), dim());
  Dims sh, st;
  std::array<bool, kMaxDims> seen{};
  for (auto o : order) {
    const int d = normalize_dim(o, dim(), "permute");
    check(!seen[d], "permute: dim {} repeated in order {}", d, order);
    seen[d] = true;
    sh.push_back(shape_[d]);
    st.push_back(strides_[d]);
  }
  return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::narrow(std::int64_t dim_, std::int64_t start, std::int64_t length) const {
  check_defined(*this, "narrow");
  check(dim() > 0, "narrow: cannot narrow a 0-d tensor");
  const int d = normalize_dim(dim_, dim(), "narrow");
  if (start < 0) start += shape_[d];
  check(start >= 0 && length >= 0 && start + length <= shape_[d],
        "narrow: start {} and length {} are out of range for dim {} of size {} (shape {})", start,
        length, d, shape_[d], shape_);
  Dims sh = shape_;
  sh[d] = length;
  return Tensor(storage_, sh, strides_, offset_ + start * strides_[d], dtype_);
}

Tensor Tensor::slice(std::int64_t dim_, std::int64_t start, std::int64_t end,
                     std::int64_t step) const {
  check_defined(*this, "slice");
  check(dim() > 0, "slice: cannot slice a 0-d tensor");
  check(step > 0, "slice: step must be positive, got {}", step);
  const int d = normalize_dim(dim_, dim(), "slice");
  const std::int64_t n = shape_[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<std::int64_t>(start, 0, n);
  end = std::clamp<std::int64_t>(end, start, n);
  Dims sh = shape_, st = strides_;
  sh[d] = (end - start + step - 1) / step;
  st[d] = strides_[d] * step;
  return Tensor(storage_, sh, st, offset_ + start * strides_[d], dtype_);
}

Tensor Tensor::select(std::int64_t dim_, std::int64_t index) const {
  check_defined(*this, "select");
  check(dim() > 0, "select: cannot select from a 0-d tensor");
  const int d = normalize_dim(dim_, dim(), "select");
  if (index < 0) index += shape_[d];
  check(index >= 0 && index < shape_[d], "select: index {} is out of range for dim {} of size {}",
        index, d, shape_[d]);
  Dims sh = shape_, st = strides_;
  sh.erase(d);
  st.erase(d);
  return Tensor(storage_, sh, st, offset_ + index * strides_[d], dtype_);
}

Tensor Tensor::unsqueeze(std::int64_t dim_) const {
  check_defined(*this, "unsqueeze");
  check(dim_ >= -(dim() + 1) && dim_ <= dim(),
        "unsqueeze: dim {} is out of range for a tensor of rank {}", dim_, dim());
  const int d = static_cast<int>(dim_ < 0 ? dim_ + dim() + 1 : dim_);
  Dims sh = shape_, st = strides_;
  const std::int64_t stride = d < dim() ? strides_[d] * shape_[d] : 1;
  sh.insert(d, 1);
  st.insert(d, stride);
  return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::squeeze() const {
  check_defined(*this, "squeeze");
  Dims sh, st;
  for (int d = 0; d < dim(); ++d)
    if (shape_[d] != 1) {
      sh.push_back(shape_[d]);
      st.push_back(strides_[d]);
    }
  return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::squeeze(std::int64_t dim_) const {
  check_defined(*this, "squeeze");
  if (dim() == 0) return *this;
  const int d = normalize_dim(dim_, dim(), "squeeze");
  if (shape_[d] != 1) return *this;  // PyTorch leaves other sizes alone
  Dims sh = shape_, st = strides_;
  sh.erase(d);
  st.erase(d);
  return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::expand(const Dims& shape) const {
  check_defined(*this, "expand");
  check(shape.size() >= dim(), "expand: target shape {} has fewer dims than the tensor's {}", shape,
        shape_);
  const int lead = shape.size() - dim();
  Dims sh = shape, st = Dims::filled(shape.size(), 0);
  for (int i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      check(shape[i] >= 0, "expand: size {} is invalid for a new leading dim (shape {})", shape[i],
            shape);
      continue;
    }
    const std::int64_t have = shape_[i - lead];
    if (shape[i] == -1 || shape[i] == have) {
      sh[i] = have;
      st[i] = strides_[i - lead];
    } else {
      check(have == 1, "expand: the size of dim {} ({}) must match {} or be 1 (from {} to {})",
            i - lead, have, shape[i], shape_, shape);
      // Without this a size-1 dim would take a negative size such as -2.
      check(shape[i] >= 0, "expand: size {} is invalid (shape {})", shape[i], shape);
    }
  }
  return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::as_strided(const Dims& shape, const Dims& strides, std::int64_t offset) const {
  check_defined(*this, "as_strided");
  check(shape.size() == strides.size(), "as_strided: shape {} and strides {} differ in rank", shape,
        strides);
  // Bounds: the farthest element must lie inside the storage.
  std::int64_t hi = offset, lo = offset;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) {
      hi = lo = offset;
      break;
    }
    (strides[d] >= 0 ? hi : lo) += (shape[d] - 1) * strides[d];
  }
  const auto capacity = static_cast<std::int64_t>(storage_->nbytes() / itemsize(dtype_));
  check(lo >= 0 && (shape.numel() == 0 || hi < capacity),
        "as_strided: shape {} with strides {} at offset {} reaches outside the storage of {} "
        "elements",
        shape, strides, offset, capacity);
  return Tensor(storage_, shape, strides, offset, dtype_);
}

// ----------------------------------------------------------------------------------------------
// Copies and in-place updates

Tensor Tensor::contiguous() const {
  check_defined(*this, "contiguous");
  return is_contiguous() ? *this : clone();
}

Tensor Tensor::clone() const {
  check_defined(*this, "clone");
  Tensor out = empty(shape_, dtype_);
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(DType dtype) const {
  check_defined(*this, "to");
  if (dtype == dtype_) return *this;
  Tensor out = empty(shape_, dtype);
  out.copy_(*this);
  return out;
}

const Tensor& Tensor::copy_(const Tensor& src) const {
  check_defined(*this, "copy_");
  check_defined(src, "copy_");
  bump_version();
  dispatch(dtype_, [&]<class T>() {
    dispatch(src.dtype(), [&]<class S>() {
      detail::map1<T, S>(*this, src, "copy_", [](S v) { return static_cast<T>(v); });
    });
  });
  return *this;
}

const Tensor& Tensor::fill_(double value) const {
  check_defined(*this, "fill_");
  bump_version();
  dispatch(dtype_, [&]<class T>() {
    const T v = static_cast<T>(value);
    detail::for_each_row<1>(shape_, {static_cast<char*>(raw_data())},
                            {detail::byte_strides(*this, shape_, "fill_")},
                            [v](detail::Ptrs<1> p, detail::Steps<1> s, std::int64_t n) {
                              if (s[0] == sizeof(T)) {
                                std::fill_n(reinterpret_cast<T*>(p[0]), n, v);
                              } else {
                                for (std::int64_t i = 0; i < n; ++i)
                                  *reinterpret_cast<T*>(p[0] + i * s[0]) = v;
                              }
                            });
  });
  return *this;
}

namespace {
template <class F>
void inplace_binary(const Tensor& self, const Tensor& other, const char* op, F f) {
  check_defined(self, op);
  check_defined(other, op);
  check(self.dtype() == other.dtype(), "{}: dtypes {} and {} differ", op, self.dtype(),
        other.dtype());
  check(broadcast_shapes(self.shape(), other.shape(), op) == self.shape(),
        "{}: shape {} cannot be broadcast to the in-place target's shape {}", op, other.shape(),
        self.shape());
  self.bump_version();
  dispatch_numeric(self.dtype(), op, [&]<class T>() {
    detail::map2<T, T, T>(self, self, other, op, [&](T a, T b) { return f(a, b); });
  });
}
}  // namespace

const Tensor& Tensor::add_(const Tensor& other, double alpha) const {
  if (alpha == 1.0) {
    inplace_binary(*this, other, "add_", [](auto a, auto b) { return a + b; });
  } else {
    inplace_binary(*this, other, "add_", [alpha](auto a, auto b) {
      return static_cast<decltype(a)>(a + static_cast<decltype(a)>(alpha) * b);
    });
  }
  return *this;
}
const Tensor& Tensor::mul_(const Tensor& other) const {
  inplace_binary(*this, other, "mul_", [](auto a, auto b) { return a * b; });
  return *this;
}
const Tensor& Tensor::div_(const Tensor& other) const {
  inplace_binary(*this, other, "div_", [](auto a, auto b) { return a / b; });
  return *this;
}

namespace {
template <class F>
void inplace_scalar(const Tensor& self, const char* op, F f) {
  check_defined(self, op);
  self.bump_version();
  dispatch_numeric(self.dtype(), op, [&]<class T>() {
    detail::map1<T, T>(self, self, op, [&](T a) { return static_cast<T>(f(a)); });
  });
}
}  // namespace

const Tensor& Tensor::add_(double value) const {
  inplace_scalar(*this, "add_", [value](auto a) { return a + static_cast<decltype(a)>(value); });
  return *this;
}
const Tensor& Tensor::mul_(double value) const {
  inplace_scalar(*this, "mul_", [value](auto a) { return a * static_cast<decltype(a)>(value); });
  return *this;
}

// ----------------------------------------------------------------------------------------------

namespace detail {
Dims broadcast_strides(const Tensor& t, const Dims& shape, const char* op) {
  check(t.dim() <= shape.size(), "{}: shape {} cannot be broadcast to {}", op, t.shape(), shape);
  const int lead = shape.size() - t.dim();
  Dims st = Dims::filled(shape.size(), 0);
  for (int i = 0; i < t.dim(); ++i) {
    const std::int64_t have = t.shape()[i], want = shape[i + lead];
    check(have == want || have == 1, "{}: shape {} cannot be broadcast to {}", op, t.shape(),
          shape);
    st[i + lead] = have == want ? t.strides()[i] : 0;
  }
  return st;
}
}  // namespace detail

}  // namespace seqgrad
