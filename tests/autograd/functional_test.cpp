// vjp, jvp, hvp, jacobian and hessian (autograd/functional.h) against committed
// torch.autograd.functional results (tests/fixtures/higher_order.json, written by
// tools/make_higher_order_fixtures.py), finite differences, and the identity <u, J v> = <Jᵀ u, v>.
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

const nlohmann::json& fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in("fixtures/higher_order.json");
    REQUIRE_MESSAGE(in.good(),
                    "cannot open fixtures/higher_order.json (run the tests from tests/)");
    return nlohmann::json::parse(in);
  }();
  return j;
}

Tensor tensor(const nlohmann::json& t) {
  Dims shape;
  for (std::int64_t s : t["shape"].get<std::vector<std::int64_t>>()) shape.push_back(s);
  return f64(t["data"].get<std::vector<double>>(), shape);
}

// The largest |a - b| over all elements (same shapes required).
double max_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.contiguous().to_vector<double>(), y = b.contiguous().to_vector<double>();
  double m = 0;
  for (std::size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

double dot(const Tensor& a, const Tensor& b) { return sum(a * b).item(); }

// The fixture's MLP: mean((tanh(x W1ᵀ + b1) W2ᵀ + b2 - target)²) as a function of the parameters.
Variable mlp_loss(const std::vector<Variable>& p) {
  const auto& m = fixture()["mlp"];
  const Variable x(tensor(m["x"])), target(tensor(m["target"]));
  const Variable h = tanh(matmul(x, p[0].t()) + p[1]);
  const Variable d = matmul(h, p[2].t()) + p[3] - target;
  return mean(d * d);
}

std::vector<Tensor> mlp_params() {
  std::vector<Tensor> p;
  for (const auto& t : fixture()["mlp"]["params"]) p.push_back(tensor(t));
  return p;
}

// f(a, b) = tanh(a @ b) * exp(-sum(a) / 10)
Variable fn(const std::vector<Variable>& v) {
  return tanh(matmul(v[0], v[1])) * exp(sum(v[0]) * -0.1);
}

}  // namespace

TEST_CASE("hessian: a small MLP's loss equals torch.autograd.functional.hessian") {
  const auto& m = fixture()["mlp"];
  const auto p = mlp_params();
  CHECK(mlp_loss({Variable(p[0]), Variable(p[1]), Variable(p[2]), Variable(p[3])}).item() ==
        doctest::Approx(m["loss"].get<double>()).epsilon(1e-12));
  const auto h = hessian(mlp_loss, p);
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 4; ++j) {
      INFO("block ", i, ", ", j);
      CHECK(max_diff(h[i][j], tensor(m["hessian"][i][j])) < 1e-12);
    }
}

TEST_CASE("hessian: a small MLP's loss equals finite differences of its gradient") {
  // Column (j, k) of the Hessian is d grad / d p_j[k], by central differences of first-order
  // gradients: independent of the recorded backward pass.
  const auto p = mlp_params();
  const auto h = hessian(mlp_loss, p);
  const double eps = 1e-5;
  double worst = 0;
  for (std::size_t j = 0; j < p.size(); ++j) {
    for (std::int64_t k = 0; k < p[j].numel(); ++k) {
      std::vector<Tensor> plus, minus;
      for (const Tensor& t : p) {
        plus.push_back(t.clone());
        minus.push_back(t.clone());
      }
      plus[j].reshape({-1}).narrow(0, k, 1).add_(f64({eps}, {1}));
      minus[j].reshape({-1}).narrow(0, k, 1).add_(f64({-eps}, {1}));
      const auto gp = vjp(mlp_loss, plus, ones(Dims{}, kFloat64)).vjp;
      const auto gm = vjp(mlp_loss, minus, ones(Dims{}, kFloat64)).vjp;
      for (std::size_t i = 0; i < p.size(); ++i) {
        const Tensor numeric = (gp[i] - gm[i]) / (2 * eps);
        // h[i][j] has shape p_i ++ p_j: the column for p_j[k] is, flattened, every p_i element.
        const Tensor column = h[i][j].reshape({p[i].numel(), p[j].numel()}).select(1, k);
        worst = std::max(worst, max_diff(column, numeric.reshape({-1})));
      }
    }
  }
  CHECK(worst < 1e-6);
}

TEST_CASE("hvp: both compositions equal the Hessian times v") {
  Generator gen(81);
  const auto p = mlp_params();
  std::vector<Tensor> v;
  for (const Tensor& t : p) v.push_back(normal64(t.shape(), gen));
  const auto h = hessian(mlp_loss, p);
  const auto rr = hvp(mlp_loss, p, v, HvpMode::ReverseOverReverse);
  const auto fr = hvp(mlp_loss, p, v, HvpMode::ForwardOverReverse);
  for (std::size_t i = 0; i < p.size(); ++i) {
    Tensor expected = zeros({p[i].numel()}, kFloat64);
    for (std::size_t j = 0; j < p.size(); ++j)
      expected =
          expected + matmul(h[i][j].reshape({p[i].numel(), p[j].numel()}), v[j].reshape({-1}));
    INFO("parameter ", i);
    CHECK(max_diff(rr[i].reshape({-1}), expected) < 1e-12);
    CHECK(max_diff(fr[i].reshape({-1}), expected) < 1e-12);
  }
}

TEST_CASE("vjp and jvp: equal torch.autograd.functional's, and <u, J v> = <Jᵀ u, v>") {
  const auto& f = fixture()["fn"];
  const Tensor a = tensor(f["a"]), b = tensor(f["b"]);
  const auto r = vjp(fn, {a, b}, tensor(f["v"]));
  CHECK(max_diff(r.output, tensor(f["output"])) < 1e-14);
  CHECK(max_diff(r.vjp[0], tensor(f["vjp_a"])) < 1e-12);
  CHECK(max_diff(r.vjp[1], tensor(f["vjp_b"])) < 1e-12);
  const auto j = jvp(fn, {a, b}, {tensor(f["ta"]), tensor(f["tb"])});
  CHECK(max_diff(j.output, tensor(f["output"])) < 1e-14);
  CHECK(max_diff(j.jvp, tensor(f["jvp"])) < 1e-12);

  Generator gen(82);
  for (int trial = 0; trial < 5; ++trial) {
    const Tensor u = normal64({2, 4}, gen), va = normal64({2, 3}, gen), vb = normal64({3, 4}, gen);
    const auto jtu = vjp(fn, {a, b}, u).vjp;
    const Tensor jv = jvp(fn, {a, b}, {va, vb}).jvp;
    CHECK(dot(u, jv) == doctest::Approx(dot(jtu[0], va) + dot(jtu[1], vb)).epsilon(1e-12));
  }
}

TEST_CASE("jacobian: rows equal finite differences and contract to jvp") {
  const auto& f = fixture()["fn"];
  const Tensor a = tensor(f["a"]), b = tensor(f["b"]);
  const auto jac = jacobian(fn, {a, b});
  CHECK(jac[0].shape() == Dims{2, 4, 2, 3});
  CHECK(jac[1].shape() == Dims{2, 4, 3, 4});
  // J t summed over both inputs is torch's jvp.
  const Tensor jt = matmul(jac[0].reshape({8, 6}), tensor(f["ta"]).reshape({6})) +
                    matmul(jac[1].reshape({8, 12}), tensor(f["tb"]).reshape({12}));
  CHECK(max_diff(jt.reshape({2, 4}), tensor(f["jvp"])) < 1e-12);
  // Column k of d out / d a by central differences.
  const double eps = 1e-6;
  for (std::int64_t k = 0; k < 6; ++k) {
    Tensor ap = a.clone(), am = a.clone();
    ap.reshape({-1}).narrow(0, k, 1).add_(f64({eps}, {1}));
    am.reshape({-1}).narrow(0, k, 1).add_(f64({-eps}, {1}));
    const Tensor numeric =
        (fn({Variable(ap), Variable(b)}).value() - fn({Variable(am), Variable(b)}).value()) /
        (2 * eps);
    CHECK(max_diff(jac[0].reshape({8, 6}).select(1, k), numeric.reshape({8})) < 1e-8);
  }
}

TEST_CASE("functional: one clear error for bad arguments") {
  const Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3}),
               b = f64({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {3, 4});
  CHECK_THROWS_WITH_AS(hessian(fn, {a, b}),
                       doctest::Contains("hessian: fn must return one element"), Error);
  CHECK_THROWS_WITH_AS(jvp(fn, {a, b}, {a}), doctest::Contains("jvp: 1 tangents for 2 inputs"),
                       Error);
  CHECK_THROWS_WITH_AS(jvp(fn, {a, b}, {a, a}),
                       doctest::Contains("jvp: tangent 1 has shape [2, 3]"), Error);
  CHECK_THROWS_WITH_AS(vjp(fn, {a, b}, a),
                       doctest::Contains("vjp: v for output 0 has shape [2, 3]"), Error);
  CHECK_THROWS_WITH_AS(hvp(fn, {a, b}, {a, b}),
                       doctest::Contains("hvp: fn must return one element"), Error);
}
