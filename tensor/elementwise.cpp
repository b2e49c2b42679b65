#include "tensor/elementwise.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "tensor/iterate.h"
#include "tensor/vecmath.h"

namespace seqgrad {

namespace {

template <class F>
Tensor unary_floating(const Tensor& x, const char* op, F f) {
  check_defined(x, op);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), op, [&]<class T>() { detail::map1<T, T>(out, x, op, f); });
  return out;
}

template <class F>
Tensor unary_numeric(const Tensor& x, const char* op, F f) {
  check_defined(x, op);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch_numeric(x.dtype(), op, [&]<class T>() {
    detail::map1<T, T>(out, x, op, [&](T v) { return static_cast<T>(f(v)); });
  });
  return out;
}

void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  check_defined(a, op);
  check_defined(b, op);
  check(a.dtype() == b.dtype(), "{}: dtypes {} and {} differ (shapes {} and {})", op, a.dtype(),
        b.dtype(), a.shape(), b.shape());
}

template <class F>
Tensor binary_numeric(const Tensor& a, const Tensor& b, const char* op, F f) {
  check_same_dtype(a, b, op);
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), op), a.dtype());
  dispatch_numeric(a.dtype(), op, [&]<class T>() {
    detail::map2<T, T, T>(out, a, b, op, [&](T x, T y) { return static_cast<T>(f(x, y)); });
  });
  return out;
}

template <class F>
Tensor compare(const Tensor& a, const Tensor& b, const char* op, F f) {
  check_same_dtype(a, b, op);
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), op), kBool);
  dispatch(a.dtype(), [&]<class T>() {
    detail::map2<bool, T, T>(out, a, b, op, [&](T x, T y) { return f(x, y); });
  });
  return out;
}

template <class F>
Tensor compare_scalar(const Tensor& a, double s, const char* op, F f) {
  check_defined(a, op);
  Tensor out = Tensor::empty(a.shape(), kBool);
  dispatch(a.dtype(), [&]<class T>() {
    // Like the other scalar ops, a floating tensor sees the scalar rounded to its dtype, so
    // eq(float32 tensor holding 0.1f, 0.1) is true; integers compare exactly against the double.
    if constexpr (std::is_floating_point_v<T>) {
      const T st = static_cast<T>(s);
      detail::map1<bool, T>(out, a, op, [&](T x) { return f(x, st); });
    } else {
      detail::map1<bool, T>(out, a, op, [&](T x) { return f(static_cast<double>(x), s); });
    }
  });
  return out;
}

}  // namespace

Tensor neg(const Tensor& x) {
  return unary_numeric(x, "neg", [](auto v) { return -v; });
}
Tensor abs(const Tensor& x) {
  return unary_numeric(x, "abs", [](auto v) { return v < 0 ? -v : v; });
}
Tensor sign(const Tensor& x) {
  return unary_numeric(x, "sign", [](auto v) { return (v > 0) - (v < 0); });
}
// float32 uses the vectorisable versions in vecmath.h; float64 the C library's.
Tensor exp(const Tensor& x) {
  return unary_floating(x, "exp", [](auto v) {
    if constexpr (std::is_same_v<decltype(v), float>)
      return vecmath::exp(v);
    else
      return std::exp(v);
  });
}
Tensor log(const Tensor& x) {
  return unary_floating(x, "log", [](auto v) { return std::log(v); });
}
Tensor sqrt(const Tensor& x) {
  return unary_floating(x, "sqrt", [](auto v) { return std::sqrt(v); });
}
Tensor tanh(const Tensor& x) {
  return unary_floating(x, "tanh", [](auto v) {
    if constexpr (std::is_same_v<decltype(v), float>)
      return vecmath::tanh(v);
    else
      return std::tanh(v);
  });
}
Tensor sigmoid(const Tensor& x) {
  // 1 / (1 + e^-v) overflows gracefully: e^-v = inf gives exactly 0.
  return unary_floating(x, "sigmoid", [](auto v) {
    using T = decltype(v);
    if constexpr (std::is_same_v<T, float>)
      return vecmath::sigmoid(v);
    else
      return T(1) / (T(1) + std::exp(-v));
  });
}
Tensor relu(const Tensor& x) {
  return unary_numeric(x, "relu", [](auto v) { return v > 0 ? v : decltype(v)(0); });
}
Tensor pow(const Tensor& x, double exponent) {
  if (exponent == 2.0) return unary_floating(x, "pow", [](auto v) { return v * v; });
  return unary_floating(x, "pow", [exponent](auto v) {
    using T = decltype(v);
    return static_cast<T>(std::pow(v, static_cast<T>(exponent)));
  });
}
Tensor clamp(const Tensor& x, double low, double high) {
  check(low <= high, "clamp: low {} is above high {}", low, high);
  return unary_numeric(x, "clamp", [low, high](auto v) {
    using T = decltype(v);
    return std::clamp(v, static_cast<T>(low), static_cast<T>(high));
  });
}

Tensor add(const Tensor& a, const Tensor& b) {
  return binary_numeric(a, b, "add", [](auto x, auto y) { return x + y; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary_numeric(a, b, "sub", [](auto x, auto y) { return x - y; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary_numeric(a, b, "mul", [](auto x, auto y) { return x * y; });
}
Tensor div(const Tensor& a, const Tensor& b) {
  if (a.defined() && a.dtype() == kInt64)
    fail("div: integer division is not supported (shapes {} and {}); convert to float first",
         a.shape(), b.defined() ? b.shape() : Dims{});
  return binary_numeric(a, b, "div", [](auto x, auto y) { return x / y; });
}
// NaN propagates, as in torch.maximum.
Tensor maximum(const Tensor& a, const Tensor& b) {
  return binary_numeric(a, b, "maximum", [](auto x, auto y) { return x != x || x > y ? x : y; });
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return binary_numeric(a, b, "minimum", [](auto x, auto y) { return x != x || x < y ? x : y; });
}

Tensor add(const Tensor& a, double s) {
  return unary_numeric(a, "add", [s](auto x) { return x + static_cast<decltype(x)>(s); });
}
Tensor mul(const Tensor& a, double s) {
  return unary_numeric(a, "mul", [s](auto x) { return x * static_cast<decltype(x)>(s); });
}
Tensor rsub(const Tensor& a, double s) {
  return unary_numeric(a, "rsub", [s](auto x) { return static_cast<decltype(x)>(s) - x; });
}
Tensor rdiv(const Tensor& a, double s) {
  return unary_floating(a, "rdiv", [s](auto x) { return static_cast<decltype(x)>(s) / x; });
}
Tensor maximum(const Tensor& a, double s) {
  return unary_numeric(a, "maximum", [s](auto x) {
    const auto y = static_cast<decltype(x)>(s);
    return x != x || x > y ? x : y;
  });
}
Tensor minimum(const Tensor& a, double s) {
  return unary_numeric(a, "minimum", [s](auto x) {
    const auto y = static_cast<decltype(x)>(s);
    return x != x || x < y ? x : y;
  });
}

Tensor eq(const Tensor& a, const Tensor& b) {
  return compare(a, b, "eq", [](auto x, auto y) { return x == y; });
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return compare(a, b, "ne", [](auto x, auto y) { return x != y; });
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return compare(a, b, "lt", [](auto x, auto y) { return x < y; });
}
Tensor le(const Tensor& a, const Tensor& b) {
  return compare(a, b, "le", [](auto x, auto y) { return x <= y; });
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return compare(a, b, "gt", [](auto x, auto y) { return x > y; });
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return compare(a, b, "ge", [](auto x, auto y) { return x >= y; });
}
Tensor eq(const Tensor& a, double s) {
  return compare_scalar(a, s, "eq", [](double x, double y) { return x == y; });
}
Tensor ne(const Tensor& a, double s) {
  return compare_scalar(a, s, "ne", [](double x, double y) { return x != y; });
}
Tensor lt(const Tensor& a, double s) {
  return compare_scalar(a, s, "lt", [](double x, double y) { return x < y; });
}
Tensor le(const Tensor& a, double s) {
  return compare_scalar(a, s, "le", [](double x, double y) { return x <= y; });
}
Tensor gt(const Tensor& a, double s) {
  return compare_scalar(a, s, "gt", [](double x, double y) { return x > y; });
}
Tensor ge(const Tensor& a, double s) {
  return compare_scalar(a, s, "ge", [](double x, double y) { return x >= y; });
}

Tensor logical_not(const Tensor& mask) {
  check_defined(mask, "logical_not");
  check(mask.dtype() == kBool, "logical_not: expected a bool tensor, got {}", mask.dtype());
  Tensor out = Tensor::empty(mask.shape(), kBool);
  detail::map1<bool, bool>(out, mask, "logical_not", [](bool v) { return !v; });
  return out;
}
Tensor logical_and(const Tensor& a, const Tensor& b) {
  check(a.defined() && b.defined() && a.dtype() == kBool && b.dtype() == kBool,
        "logical_and: expected two bool tensors");
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), "logical_and"), kBool);
  detail::map2<bool, bool, bool>(out, a, b, "logical_and", [](bool x, bool y) { return x && y; });
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined(cond, "where");
  check(cond.dtype() == kBool, "where: condition must be bool, got {}", cond.dtype());
  check_same_dtype(a, b, "where");
  const Dims shape =
      broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  Tensor out = Tensor::empty(shape, a.dtype());
  dispatch(a.dtype(), [&]<class T>() {
    detail::map3<T, bool, T, T>(out, cond, a, b, "where",
                                [](bool c, T x, T y) { return c ? x : y; });
  });
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_defined(x, "masked_fill");
  check_defined(mask, "masked_fill");
  check(mask.dtype() == kBool, "masked_fill: mask must be bool, got {}", mask.dtype());
  check(broadcast_shapes(x.shape(), mask.shape(), "masked_fill") == x.shape(),
        "masked_fill: mask of shape {} does not broadcast to the input's shape {}", mask.shape(),
        x.shape());
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    const T v = static_cast<T>(value);
    detail::map2<T, T, bool>(out, x, mask, "masked_fill", [v](T a, bool m) { return m ? v : a; });
  });
  return out;
}

bool all_finite(const Tensor& x) {
  check_defined(x, "all_finite");
  if (!is_floating(x.dtype())) return true;
  bool ok = true;
  dispatch_floating(x.dtype(), "all_finite", [&]<class T>() {
    detail::for_each_row<1>(x.shape(), {static_cast<char*>(x.raw_data())},
                            {detail::byte_strides(x, x.shape(), "all_finite")},
                            [&](detail::Ptrs<1> p, detail::Steps<1> s, std::int64_t n) {
                              for (std::int64_t i = 0; i < n; ++i)
                                ok &= std::isfinite(*reinterpret_cast<const T*>(p[0] + i * s[0]));
                            });
  });
  return ok;
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  check_same_dtype(a, b, "allclose");
  if (!(a.shape() == b.shape())) return false;
  const auto x = a.to(kFloat64).to_vector<double>(), y = b.to(kFloat64).to_vector<double>();
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(std::abs(x[i] - y[i]) <= atol + rtol * std::abs(y[i]))) return false;
  return true;
}

Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double s) { return add(a, s); }
Tensor operator-(const Tensor& a, double s) { return add(a, -s); }
Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
Tensor operator/(const Tensor& a, double s) {
  return unary_floating(a, "div", [s](auto x) { return x / static_cast<decltype(x)>(s); });
}
Tensor operator+(double s, const Tensor& a) { return add(a, s); }
Tensor operator-(double s, const Tensor& a) { return rsub(a, s); }
Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
Tensor operator/(double s, const Tensor& a) { return rdiv(a, s); }

}  // namespace seqgrad
