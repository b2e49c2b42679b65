// Element types. float32 trains, float64 checks gradients, int64 holds indices and labels,
// bool holds masks (the result of comparisons).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/error.h"

namespace seqgrad {

enum class DType : std::uint8_t { Float32, Float64, Int64, Bool };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kBool = DType::Bool;

constexpr std::size_t itemsize(DType t) {
  switch (t) {
    case DType::Float32:
      return 4;
    case DType::Float64:
      return 8;
    case DType::Int64:
      return 8;
    case DType::Bool:
      return 1;
  }
  return 0;
}

constexpr const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32:
      return "float32";
    case DType::Float64:
      return "float64";
    case DType::Int64:
      return "int64";
    case DType::Bool:
      return "bool";
  }
  return "?";
}

constexpr bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::Float32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::Float64;
}
template <>
constexpr DType dtype_of<std::int64_t>() {
  return DType::Int64;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::Bool;
}

// Calls f.template operator()<T>() with the C++ type of `t`.
// Usage: dispatch(t.dtype(), [&]<class T>() { ... });
template <class F>
decltype(auto) dispatch(DType t, F&& f) {
  switch (t) {
    case DType::Float32:
      return f.template operator()<float>();
    case DType::Float64:
      return f.template operator()<double>();
    case DType::Int64:
      return f.template operator()<std::int64_t>();
    case DType::Bool:
      return f.template operator()<bool>();
  }
  fail("dispatch: unknown dtype");
}

// Like dispatch, for numeric kernels: bool is rejected with a message naming `op`.
template <class F>
decltype(auto) dispatch_numeric(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32:
      return f.template operator()<float>();
    case DType::Float64:
      return f.template operator()<double>();
    case DType::Int64:
      return f.template operator()<std::int64_t>();
    default:
      fail("{}: expected a numeric dtype, got {}", op, dtype_name(t));
  }
}

// For kernels that only make sense on real numbers (exp, tanh, softmax, matmul, ...).
template <class F>
decltype(auto) dispatch_floating(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32:
      return f.template operator()<float>();
    case DType::Float64:
      return f.template operator()<double>();
    default:
      fail("{}: expected float32 or float64, got {}", op, dtype_name(t));
  }
}

}  // namespace seqgrad

template <>
struct fmt::formatter<seqgrad::DType> : fmt::formatter<const char*> {
  auto format(seqgrad::DType t, format_context& ctx) const {
    return fmt::formatter<const char*>::format(seqgrad::dtype_name(t), ctx);
  }
};
