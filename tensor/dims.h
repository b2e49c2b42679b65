// Dims: a shape or a list of strides, stored inline (no heap allocation) because every tensor
// operation creates a few of them and the hot path must not allocate.
#pragma once

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>

#include "tensor/error.h"

namespace seqgrad {

inline constexpr int kMaxDims = 8;

class Dims {
 public:
  Dims() {}  // user-provided so that entries past n_ stay uninitialised (see d_)
  Dims(std::initializer_list<std::int64_t> values)
      : Dims(std::span(values.begin(), values.size())) {}
  explicit Dims(std::span<const std::int64_t> values) {
    check(values.size() <= kMaxDims, "Dims: {} dimensions given, at most {} are supported",
          values.size(), kMaxDims);
    n_ = static_cast<int>(values.size());
    for (int i = 0; i < n_; ++i) d_[i] = values[i];
  }
  static Dims filled(int n, std::int64_t value) {
    Dims d;
    for (int i = 0; i < n; ++i) d.push_back(value);
    return d;
  }

  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  std::int64_t& operator[](int i) { return d_[i]; }
  std::int64_t operator[](int i) const { return d_[i]; }
  std::int64_t back() const { return d_[n_ - 1]; }
  std::int64_t* begin() { return d_.data(); }
  std::int64_t* end() { return d_.data() + n_; }
  const std::int64_t* begin() const { return d_.data(); }
  const std::int64_t* end() const { return d_.data() + n_; }

  void push_back(std::int64_t v) {
    check(n_ < kMaxDims, "Dims: more than {} dimensions are not supported", kMaxDims);
    d_[n_++] = v;
  }
  void insert(int pos, std::int64_t v) {
    push_back(0);
    for (int i = n_ - 1; i > pos; --i) d_[i] = d_[i - 1];
    d_[pos] = v;
  }
  void erase(int pos) {
    for (int i = pos; i + 1 < n_; ++i) d_[i] = d_[i + 1];
    --n_;
  }

  // Product of all entries: the number of elements of a tensor of this shape (1 for a scalar).
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < n_; ++i) n *= d_[i];
    return n;
  }

  friend bool operator==(const Dims& a, const Dims& b) {
    if (a.n_ != b.n_) return false;
    for (int i = 0; i < a.n_; ++i)
      if (a.d_[i] != b.d_[i]) return false;
    return true;
  }

 private:
  // Entries past n_ are never read: leaving them uninitialised saves a 64-byte memset per Dims.
  std::array<std::int64_t, kMaxDims> d_;
  int n_ = 0;
};

// Row-major strides (in elements) of a contiguous tensor of this shape.
Dims contiguous_strides(const Dims& shape);

// Maps a possibly negative dim into [0, rank); throws naming `op` when out of range.
int normalize_dim(std::int64_t dim, int rank, const char* op);

// NumPy broadcasting of two shapes; throws naming `op` and both shapes when impossible.
Dims broadcast_shapes(const Dims& a, const Dims& b, const char* op);

}  // namespace seqgrad

template <>
struct fmt::formatter<seqgrad::Dims> {
  constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
  auto format(const seqgrad::Dims& d, format_context& ctx) const {
    return fmt::format_to(ctx.out(), "[{}]", fmt::join(d.begin(), d.end(), ", "));
  }
};
