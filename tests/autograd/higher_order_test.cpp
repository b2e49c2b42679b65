// grad() and derivatives of derivatives: grad() returns gradients without touching .grad, takes
// several outputs, grad_outputs and non-leaf inputs, and with create_graph records the backward
// pass, so that it can be differentiated again (to any order); numbers by hand. Ops whose
// backward is a tensor-only kernel refuse, naming the op, only when differentiated through.
#include <cmath>
#include <string>
#include <vector>

#include "autograd_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

GradOptions create_graph() { return {.create_graph = true}; }

// y = x^2 with a first-order-only backward: a tensor closure, as the fused kernels in nn/ have.
Variable tensor_only_square(const Variable& x) {
  const Tensor xv = x.value();
  return record("tensor_only_square", xv * xv, {x},
                [xv](const Tensor& gy, GradSlots& dx) { dx[0] += gy * xv * 2.0; }, {xv});
}

// y = x^2 whose generic backward reads x as a constant tensor: right first derivative, wrong
// (zero) second derivative in x. gradgradcheck must catch it.
Variable constant_saved_square(const Variable& x) {
  const Tensor xv = x.value();
  return record("constant_saved_square", xv * xv, {x},
                [xv](const auto& gy, auto& dx) { dx[0] += gy * xv * 2.0; }, {xv});
}

}  // namespace

TEST_CASE("grad: returns dL/dx without touching .grad, for leaves and non-leaves") {
  Variable x(f64({1, 2, 3}, {3}), true);
  Variable w(f64({0.5, -1, 2}, {3}), true);
  const Variable h = x * w;  // a non-leaf input
  const Variable loss = sum(h * h);
  // dL/dx = 2 h w = 2 x w^2; dL/dw = 2 x^2 w; dL/dh = 2 h
  const auto g = grad({loss}, {x, w, h});
  CHECK(g[0].value().to_vector<double>() == std::vector<double>{0.5, 4, 24});
  CHECK(g[1].value().to_vector<double>() == std::vector<double>{1, -8, 36});
  CHECK(g[2].value().to_vector<double>() == std::vector<double>{1, -4, 12});
  CHECK_FALSE(g[0].requires_grad());
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(w.grad().defined());
  // The graph was freed (retain_graph defaults to create_graph, false here).
  CHECK_THROWS_WITH_AS(grad({loss}, {x}), doctest::Contains("a second time"), Error);
}

TEST_CASE("grad: several outputs with grad_outputs, and an output that is an input") {
  Variable x(f64({1, 2}, {2}), true);
  const Variable y1 = x * 3.0, y2 = x * x;
  // <y1, [1, 1]> + <y2, [2, 0]> + <x, [0, 5]>: d/dx = 3 + 2 * 2x * [1, 0] + [0, 5]
  const auto g =
      grad({y1, y2, x}, {x},
           {Variable(f64({1, 1}, {2})), Variable(f64({2, 0}, {2})), Variable(f64({0, 5}, {2}))});
  CHECK(g[0].value().to_vector<double>() == std::vector<double>{7, 8});
}

TEST_CASE("grad: unused inputs, inputs that need no grad, bad grad_outputs") {
  Variable x(f64({1, 2}, {2}), true), z(f64({3}, {1}), true);
  const Variable y = sum(x * x);
  CHECK_THROWS_WITH_AS(grad({y}, {z}, {}, {.retain_graph = true}),
                       doctest::Contains("input 0 (shape [1]) was not used"), Error);
  const auto g = grad({y}, {x, z}, {}, {.retain_graph = true, .allow_unused = true});
  CHECK(g[0].defined());
  CHECK_FALSE(g[1].defined());
  CHECK_THROWS_WITH_AS(grad({y}, {Variable(f64({1}, {1}))}), doctest::Contains("input 0 does not"),
                       Error);
  const Variable v = x * 2.0;
  CHECK_THROWS_WITH_AS(grad({v}, {x}), doctest::Contains("only for one-element outputs"), Error);
  CHECK_THROWS_WITH_AS(grad({v}, {x}, {Variable(f64({1, 2, 3}, {3}))}),
                       doctest::Contains("grad_outputs[0] of shape [3]"), Error);
}

TEST_CASE("grad with create_graph: the third derivative of tanh, by hand") {
  // y = tanh x: y' = 1 - y^2, y'' = -2 y y', y''' = -2 (1 - y^2)(1 - 3 y^2)
  const std::vector<double> xs = {-1.3, -0.2, 0.0, 0.5, 2.0};
  Variable x(f64(xs, {5}), true);
  const Variable y = tanh(x);
  const Variable d1 = grad({sum(y)}, {x}, {}, create_graph())[0];
  const Variable d2 = grad({sum(d1)}, {x}, {}, create_graph())[0];
  const Variable d3 = grad({sum(d2)}, {x}, {}, create_graph())[0];
  CHECK(d1.requires_grad());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double t = std::tanh(xs[i]);
    INFO("x = ", xs[i]);
    CHECK(d1.value().to_vector<double>()[i] == doctest::Approx(1 - t * t).epsilon(1e-12));
    CHECK(d2.value().to_vector<double>()[i] ==
          doctest::Approx(-2 * t * (1 - t * t)).epsilon(1e-12));
    CHECK(d3.value().to_vector<double>()[i] ==
          doctest::Approx(-2 * (1 - t * t) * (1 - 3 * t * t)).epsilon(1e-12));
  }
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("grad with create_graph: a Hessian-vector product by hand") {
  // f(x) = sum(x1^2 x2) over a pair: grad = (2 x1 x2, x1^2); H = [[2 x2, 2 x1], [2 x1, 0]].
  Variable x1(f64({3}, {1}), true), x2(f64({-2}, {1}), true);
  const Variable f = sum(x1 * x1 * x2);
  const auto g = grad({f}, {x1, x2}, {}, create_graph());
  CHECK(g[0].item() == -12);
  CHECK(g[1].item() == 9);
  // H v with v = (1, 10): (2 x2 + 20 x1, 2 x1) = (56, 6)
  const Variable gv = sum(g[0] * 1.0 + g[1] * 10.0);
  const auto hv = grad({gv}, {x1, x2}, {}, {.retain_graph = true});
  CHECK(hv[0].item() == doctest::Approx(56));
  CHECK(hv[1].item() == doctest::Approx(6));
  // The same through backward(), which accumulates into .grad.
  gv.backward();
  CHECK(x1.grad().item() == doctest::Approx(56));
  CHECK(x2.grad().item() == doctest::Approx(6));
}

TEST_CASE("grad with create_graph: a tensor-only backward refuses only when differentiated") {
  Variable x(f64({1, 2}, {2}), true);
  const Variable y = sum(tensor_only_square(x) * 3.0);
  const Variable g = grad({y}, {x}, {}, create_graph())[0];  // the first derivative works
  CHECK(g.value().to_vector<double>() == std::vector<double>{6, 12});
  CHECK(g.requires_grad());
  CHECK_THROWS_WITH_AS(grad({sum(g)}, {x}),
                       doctest::Contains("'tensor_only_square' is first-order only"), Error);
  // Without create_graph there is nothing to refuse.
  Variable x2(f64({1, 2}, {2}), true);
  CHECK(grad({sum(tensor_only_square(x2))}, {x2})[0].value().to_vector<double>() ==
        std::vector<double>{2, 4});
}

TEST_CASE("gradgradcheck: catches a backward whose own derivative is wrong") {
  Generator gen(71);
  const auto fn = [](const std::vector<Variable>& v) { return constant_saved_square(v[0]); };
  const Tensor x = normal64({2, 3}, gen);
  CHECK(gradcheck(fn, {x}).ok);  // the first derivative is right
  const auto r = gradgradcheck(fn, {x});
  CHECK_FALSE(r.ok);
  CHECK(r.report.find("gradgradcheck") != std::string::npos);
  CHECK(gradgradcheck([](const std::vector<Variable>& v) { return v[0] * v[0]; }, {x}).ok);
}
