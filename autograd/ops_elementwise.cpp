// Elementwise ops: forward value, then the backward rule, side by side.
// Notation: x, a, b are inputs; y the output; gy = dL/dy; dx[i] += dL/d(input i).
#include "autograd/functions.h"
#include "autograd/node.h"
#include "tensor/iterate.h"

namespace seqgrad {

// y = -x;  dx = -gy
Variable neg(const Variable& x) {
  return record("neg", neg(x.value()), {x},
                [](const Tensor& gy, GradSlots& dx) { dx[0] += neg(gy); });
}

// y = |x|;  dx = gy * sign(x)   (0 at x = 0, as in PyTorch)
Variable abs(const Variable& x) {
  const Tensor xv = x.value();
  return record("abs", abs(xv), {x},
                [xv](const Tensor& gy, GradSlots& dx) { dx[0] += gy * sign(xv); }, {xv});
}

// y = e^x;  dx = gy * y
Variable exp(const Variable& x) {
  const Tensor y = exp(x.value());
  return record("exp", y, {x}, [y](const Tensor& gy, GradSlots& dx) { dx[0] += gy * y; }, {y});
}

// y = log x;  dx = gy / x
Variable log(const Variable& x) {
  const Tensor xv = x.value();
  return record("log", log(xv), {x}, [xv](const Tensor& gy, GradSlots& dx) { dx[0] += gy / xv; },
                {xv});
}

// y = sqrt(x);  dx = gy / (2 y)
Variable sqrt(const Variable& x) {
  const Tensor y = sqrt(x.value());
  return record("sqrt", y, {x}, [y](const Tensor& gy, GradSlots& dx) { dx[0] += gy / (y * 2.0); },
                {y});
}

// y = tanh(x);  dx = gy * (1 - y^2)
Variable tanh(const Variable& x) {
  const Tensor y = tanh(x.value());
  return record("tanh", y, {x},
                [y](const Tensor& gy, GradSlots& dx) { dx[0] += gy * (1.0 - y * y); }, {y});
}

// y = 1 / (1 + e^-x);  dx = gy * y * (1 - y)
Variable sigmoid(const Variable& x) {
  const Tensor y = sigmoid(x.value());
  return record("sigmoid", y, {x},
                [y](const Tensor& gy, GradSlots& dx) { dx[0] += gy * y * (1.0 - y); }, {y});
}

// y = max(x, 0);  dx = gy where y > 0, else 0 (one fused pass: ReLU follows every conv layer)
Variable relu(const Variable& x) {
  const Tensor y = relu(x.value());
  return record("relu", y, {x},
                [y](const Tensor& gy, GradSlots& dx) {
                  Tensor g = Tensor::empty(y.shape(), y.dtype());
                  dispatch_numeric(y.dtype(), "relu", [&]<class T>() {
                    detail::map2<T, T, T>(g, gy, y, "relu",
                                          [](T a, T b) { return b > T(0) ? a : T(0); });
                  });
                  dx[0] += std::move(g);
                },
                {y});
}

// y = x^p;  dx = gy * p * x^(p-1)
Variable pow(const Variable& x, double p) {
  const Tensor xv = x.value();
  return record("pow", pow(xv, p), {x},
                [xv, p](const Tensor& gy, GradSlots& dx) {
                  dx[0] += p == 2.0 ? gy * xv * 2.0 : gy * pow(xv, p - 1.0) * p;
                },
                {xv});
}

// y = min(max(x, low), high);  dx = gy inside [low, high], else 0
Variable clamp(const Variable& x, double low, double high) {
  const Tensor xv = x.value();
  return record("clamp", clamp(xv, low, high), {x},
                [xv, low, high](const Tensor& gy, GradSlots& dx) {
                  dx[0] +=
                      masked_fill(gy, logical_not(logical_and(ge(xv, low), le(xv, high))), 0.0);
                },
                {xv});
}

// y = a + b;  da = gy, db = gy   (the slots sum over broadcast dims)
Variable add(const Variable& a, const Variable& b) {
  return record("add", add(a.value(), b.value()), {a, b}, [](const Tensor& gy, GradSlots& dx) {
    dx[0] += gy;
    dx[1] += gy;
  });
}

// y = a - b;  da = gy, db = -gy
Variable sub(const Variable& a, const Variable& b) {
  return record("sub", sub(a.value(), b.value()), {a, b}, [](const Tensor& gy, GradSlots& dx) {
    dx[0] += gy;
    if (dx.needed(1)) dx[1] += neg(gy);
  });
}

// y = a * b;  da = gy * b, db = gy * a
Variable mul(const Variable& a, const Variable& b) {
  const Tensor av = a.value(), bv = b.value();
  return record("mul", mul(av, bv), {a, b},
                [av, bv](const Tensor& gy, GradSlots& dx) {
                  if (dx.needed(0)) dx[0] += gy * bv;
                  if (dx.needed(1)) dx[1] += gy * av;
                },
                {av, bv});
}

// y = a / b;  da = gy / b, db = -gy * a / b^2 = -gy * y / b
Variable div(const Variable& a, const Variable& b) {
  const Tensor bv = b.value(), y = div(a.value(), bv);
  return record("div", y, {a, b},
                [bv, y](const Tensor& gy, GradSlots& dx) {
                  const Tensor ga = gy / bv;
                  if (dx.needed(0)) dx[0] += ga;
                  if (dx.needed(1)) dx[1] += neg(ga * y);
                },
                {bv, y});
}

// y = max(a, b);  the gradient goes to the larger input, split evenly on ties (as in PyTorch)
namespace {
Variable extremum(const Variable& a, const Variable& b, bool is_max) {
  const Tensor av = a.value(), bv = b.value();
  const Tensor y = is_max ? maximum(av, bv) : minimum(av, bv);
  return record(is_max ? "maximum" : "minimum", y, {a, b},
                [av, bv, is_max](const Tensor& gy, GradSlots& dx) {
                  const Tensor a_wins = is_max ? gt(av, bv) : lt(av, bv);
                  const Tensor zero = zeros_like(gy);
                  const Tensor ga = where(a_wins, gy, where(eq(av, bv), gy * 0.5, zero));
                  if (dx.needed(0)) dx[0] += ga;
                  if (dx.needed(1))
                    dx[1] += gy - ga;  // the rest: all of gy where b wins, half on ties
                },
                {av, bv});
}
}  // namespace
Variable maximum(const Variable& a, const Variable& b) { return extremum(a, b, true); }
Variable minimum(const Variable& a, const Variable& b) { return extremum(a, b, false); }

// With a scalar: y = a + s, a * s, s - a, s / a
Variable add(const Variable& a, double s) {
  return record("add", add(a.value(), s), {a},
                [](const Tensor& gy, GradSlots& dx) { dx[0] += gy; });
}
Variable mul(const Variable& a, double s) {
  return record("mul", mul(a.value(), s), {a},
                [s](const Tensor& gy, GradSlots& dx) { dx[0] += gy * s; });
}
Variable rsub(const Variable& a, double s) {
  return record("rsub", rsub(a.value(), s), {a},
                [](const Tensor& gy, GradSlots& dx) { dx[0] += neg(gy); });
}
// y = s / a;  da = -gy * s / a^2 = -gy * y / a
Variable rdiv(const Variable& a, double s) {
  const Tensor av = a.value(), y = rdiv(av, s);
  return record("rdiv", y, {a},
                [av, y](const Tensor& gy, GradSlots& dx) { dx[0] += neg(gy * y / av); }, {av, y});
}

// y = cond ? a : b;  da = gy where cond, db = gy elsewhere
Variable where(const Tensor& cond, const Variable& a, const Variable& b) {
  return record("where", where(cond, a.value(), b.value()), {a, b},
                [cond](const Tensor& gy, GradSlots& dx) {
                  if (dx.needed(0)) dx[0] += masked_fill(gy, logical_not(cond), 0.0);
                  if (dx.needed(1)) dx[1] += masked_fill(gy, cond, 0.0);
                });
}

// y = mask ? value : x;  dx = gy where not mask
Variable masked_fill(const Variable& x, const Tensor& mask, double value) {
  return record("masked_fill", masked_fill(x.value(), mask, value), {x},
                [mask](const Tensor& gy, GradSlots& dx) { dx[0] += masked_fill(gy, mask, 0.0); });
}

Variable operator-(const Variable& a) { return neg(a); }
Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }
Variable operator+(const Variable& a, double s) { return add(a, s); }
Variable operator-(const Variable& a, double s) { return add(a, -s); }
Variable operator*(const Variable& a, double s) { return mul(a, s); }
// y = a / s;  da = gy / s
Variable operator/(const Variable& a, double s) {
  return record("div", a.value() / s, {a},
                [s](const Tensor& gy, GradSlots& dx) { dx[0] += gy / s; });
}
Variable operator+(double s, const Variable& a) { return add(a, s); }
Variable operator-(double s, const Variable& a) { return rsub(a, s); }
Variable operator*(double s, const Variable& a) { return mul(a, s); }
Variable operator/(double s, const Variable& a) { return rdiv(a, s); }

Tensor eq(const Variable& a, const Variable& b) { return eq(a.value(), b.value()); }
Tensor lt(const Variable& a, const Variable& b) { return lt(a.value(), b.value()); }
Tensor gt(const Variable& a, const Variable& b) { return gt(a.value(), b.value()); }
Tensor eq(const Variable& a, double s) { return eq(a.value(), s); }
Tensor lt(const Variable& a, double s) { return lt(a.value(), s); }
Tensor gt(const Variable& a, double s) { return gt(a.value(), s); }

}  // namespace seqgrad
