// Elementwise ops: forward value, then the backward rule, side by side.
// Notation: x, a, b are inputs; y the output; gy = dL/dy; dx[i] += dL/d(input i).
// Each backward is written once, generically (const auto& gy, auto& dx): on tensors for
// backward(), on Variables when grad() records the backward pass (create_graph). It reads the
// values it saved through dx.saved(x) (an input) and dx.output(y) (the op's own output), which
// under create_graph are Variables, so the second derivative flows through them.
#include "autograd/functions.h"
#include "autograd/node.h"
#include "tensor/iterate.h"

namespace seqgrad {

// y = -x;  dx = -gy
Variable neg(const Variable& x) {
  return record("neg", neg(x.value()), {x}, [](const auto& gy, auto& dx) { dx[0] += neg(gy); });
}

// y = |x|;  dx = gy * sign(x)   (0 at x = 0, as in PyTorch; sign is piecewise constant)
Variable abs(const Variable& x) {
  const Tensor xv = x.value();
  return record("abs", abs(xv), {x}, [xv](const auto& gy, auto& dx) { dx[0] += gy * sign(xv); },
                {xv});
}

// y = e^x;  dx = gy * y
Variable exp(const Variable& x) {
  const Tensor y = exp(x.value());
  return record("exp", y, {x}, [y](const auto& gy, auto& dx) { dx[0] += gy * dx.output(y); }, {y});
}

// y = log x;  dx = gy / x
Variable log(const Variable& x) {
  return record("log", log(x.value()), {x},
                [x](const auto& gy, auto& dx) { dx[0] += gy / dx.saved(x); }, {x.value()});
}

// y = sqrt(x);  dx = gy / (2 y)
Variable sqrt(const Variable& x) {
  const Tensor y = sqrt(x.value());
  return record("sqrt", y, {x},
                [y](const auto& gy, auto& dx) { dx[0] += gy / (dx.output(y) * 2.0); }, {y});
}

// y = tanh(x);  dx = gy * (1 - y^2)
Variable tanh(const Variable& x) {
  const Tensor y = tanh(x.value());
  return record("tanh", y, {x},
                [y](const auto& gy, auto& dx) {
                  const auto yv = dx.output(y);
                  dx[0] += gy * (1.0 - yv * yv);
                },
                {y});
}

// y = 1 / (1 + e^-x);  dx = gy * y * (1 - y)
Variable sigmoid(const Variable& x) {
  const Tensor y = sigmoid(x.value());
  return record("sigmoid", y, {x},
                [y](const auto& gy, auto& dx) {
                  const auto yv = dx.output(y);
                  dx[0] += gy * yv * (1.0 - yv);
                },
                {y});
}

// y = max(x, 0);  dx = relu_backward(gy, y): gy where y > 0, else 0
Variable relu(const Variable& x) {
  const Tensor y = relu(x.value());
  return record("relu", y, {x}, [y](const auto& gy, auto& dx) { dx[0] += relu_backward(gy, y); },
                {y});
}

// relu's backward as an op of its own (one fused pass on tensors: ReLU follows every conv
// layer). It is linear in gy with a constant mask, so its own backward is itself.
Tensor relu_backward(const Tensor& gy, const Tensor& y) {
  Tensor g = Tensor::empty(y.shape(), y.dtype());
  dispatch_numeric(y.dtype(), "relu", [&]<class T>() {
    detail::map2<T, T, T>(g, gy, y, "relu", [](T a, T b) { return b > T(0) ? a : T(0); });
  });
  return g;
}
Variable relu_backward(const Variable& gy, const Tensor& y) {
  return record("relu_backward", relu_backward(gy.value(), y), {gy},
                [y](const auto& g, auto& dx) { dx[0] += relu_backward(g, y); }, {y});
}

// y = x^p;  dx = gy * p * x^(p-1)
Variable pow(const Variable& x, double p) {
  return record("pow", pow(x.value(), p), {x},
                [x, p](const auto& gy, auto& dx) {
                  const auto& xv = dx.saved(x);
                  if (p == 2.0)
                    dx[0] += gy * xv * 2.0;
                  else
                    dx[0] += gy * pow(xv, p - 1.0) * p;
                },
                {x.value()});
}

// y = min(max(x, low), high);  dx = gy inside [low, high], else 0
Variable clamp(const Variable& x, double low, double high) {
  const Tensor xv = x.value();
  const Tensor outside = logical_not(logical_and(ge(xv, low), le(xv, high)));
  return record("clamp", clamp(xv, low, high), {x},
                [outside](const auto& gy, auto& dx) { dx[0] += masked_fill(gy, outside, 0.0); },
                {xv});
}

// y = a + b;  da = gy, db = gy   (the slots sum over broadcast dims)
Variable add(const Variable& a, const Variable& b) {
  return record("add", add(a.value(), b.value()), {a, b}, [](const auto& gy, auto& dx) {
    dx[0] += gy;
    dx[1] += gy;
  });
}

// y = a - b;  da = gy, db = -gy
Variable sub(const Variable& a, const Variable& b) {
  return record("sub", sub(a.value(), b.value()), {a, b}, [](const auto& gy, auto& dx) {
    dx[0] += gy;
    if (dx.needed(1)) dx[1] += neg(gy);
  });
}

// y = a * b;  da = gy * b, db = gy * a
Variable mul(const Variable& a, const Variable& b) {
  return record("mul", mul(a.value(), b.value()), {a, b},
                [a, b](const auto& gy, auto& dx) {
                  if (dx.needed(0)) dx[0] += gy * dx.saved(b);
                  if (dx.needed(1)) dx[1] += gy * dx.saved(a);
                },
                {a.value(), b.value()});
}

// y = a / b;  da = gy / b, db = -gy * a / b^2 = -(gy / b) * y
Variable div(const Variable& a, const Variable& b) {
  const Tensor y = div(a.value(), b.value());
  return record("div", y, {a, b},
                [b, y](const auto& gy, auto& dx) {
                  const auto ga = gy / dx.saved(b);
                  if (dx.needed(0)) dx[0] += ga;
                  if (dx.needed(1)) dx[1] += neg(ga * dx.output(y));
                },
                {b.value(), y});
}

// y = max(a, b);  the gradient goes to the larger input, split evenly on ties (as in PyTorch):
// da = gy * w, db = gy * (1 - w) with the piecewise-constant weight w = 1, 1/2 or 0
namespace {
Variable extremum(const Variable& a, const Variable& b, bool is_max) {
  const Tensor av = a.value(), bv = b.value();
  const Tensor y = is_max ? maximum(av, bv) : minimum(av, bv);
  const Tensor a_wins = (is_max ? gt(av, bv) : lt(av, bv)).to(y.dtype());
  const Tensor w = a_wins + eq(av, bv).to(y.dtype()) * 0.5;
  return record(is_max ? "maximum" : "minimum", y, {a, b},
                [w](const auto& gy, auto& dx) {
                  if (dx.needed(0)) dx[0] += gy * w;
                  if (dx.needed(1)) dx[1] += gy * (1.0 - w);
                },
                {av, bv});
}
}  // namespace
Variable maximum(const Variable& a, const Variable& b) { return extremum(a, b, true); }
Variable minimum(const Variable& a, const Variable& b) { return extremum(a, b, false); }

// With a scalar: y = a + s, a * s, s - a, s / a
Variable add(const Variable& a, double s) {
  return record("add", add(a.value(), s), {a}, [](const auto& gy, auto& dx) { dx[0] += gy; });
}
Variable mul(const Variable& a, double s) {
  return record("mul", mul(a.value(), s), {a}, [s](const auto& gy, auto& dx) { dx[0] += gy * s; });
}
Variable rsub(const Variable& a, double s) {
  return record("rsub", rsub(a.value(), s), {a},
                [](const auto& gy, auto& dx) { dx[0] += neg(gy); });
}
// y = s / a;  da = -gy * s / a^2 = -gy * y / a
Variable rdiv(const Variable& a, double s) {
  const Tensor y = rdiv(a.value(), s);
  return record("rdiv", y, {a},
                [a, y](const auto& gy, auto& dx) { dx[0] += neg(gy * dx.output(y) / dx.saved(a)); },
                {a.value(), y});
}

// y = cond ? a : b;  da = gy where cond, db = gy elsewhere
Variable where(const Tensor& cond, const Variable& a, const Variable& b) {
  return record("where", where(cond, a.value(), b.value()), {a, b},
                [cond](const auto& gy, auto& dx) {
                  if (dx.needed(0)) dx[0] += masked_fill(gy, logical_not(cond), 0.0);
                  if (dx.needed(1)) dx[1] += masked_fill(gy, cond, 0.0);
                });
}

// y = mask ? value : x;  dx = gy where not mask
Variable masked_fill(const Variable& x, const Tensor& mask, double value) {
  return record("masked_fill", masked_fill(x.value(), mask, value), {x},
                [mask](const auto& gy, auto& dx) { dx[0] += masked_fill(gy, mask, 0.0); });
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
  return record("div", a.value() / s, {a}, [s](const auto& gy, auto& dx) { dx[0] += gy / s; });
}
Variable operator+(double s, const Variable& a) { return add(a, s); }
Variable operator-(double s, const Variable& a) { return rsub(a, s); }
Variable operator*(double s, const Variable& a) { return mul(a, s); }
Variable operator/(double s, const Variable& a) { return rdiv(a, s); }

// With a constant tensor (masks and weights in backward formulas): the tensor is not
// differentiated.
Variable operator+(const Variable& a, const Tensor& b) { return add(a, Variable(b)); }
Variable operator-(const Variable& a, const Tensor& b) { return sub(a, Variable(b)); }
Variable operator*(const Variable& a, const Tensor& b) { return mul(a, Variable(b)); }
Variable operator/(const Variable& a, const Tensor& b) { return div(a, Variable(b)); }
Variable operator+(const Tensor& a, const Variable& b) { return add(Variable(a), b); }
Variable operator-(const Tensor& a, const Variable& b) { return sub(Variable(a), b); }
Variable operator*(const Tensor& a, const Variable& b) { return mul(Variable(a), b); }
Variable operator/(const Tensor& a, const Variable& b) { return div(Variable(a), b); }

Tensor eq(const Variable& a, const Variable& b) { return eq(a.value(), b.value()); }
Tensor lt(const Variable& a, const Variable& b) { return lt(a.value(), b.value()); }
Tensor gt(const Variable& a, const Variable& b) { return gt(a.value(), b.value()); }
Tensor eq(const Variable& a, double s) { return eq(a.value(), s); }
Tensor lt(const Variable& a, double s) { return lt(a.value(), s); }
Tensor gt(const Variable& a, double s) { return gt(a.value(), s); }

}  // namespace seqgrad
