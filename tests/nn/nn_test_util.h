// Shared by the nn tests: tensors compared to a relative tolerance, inputs without ties for max
// pooling, and access to tests/fixtures/nn.json (written by tools/make_nn_fixtures.py from
// PyTorch 1.13) with a runner that maps each fixture case to the seqgrad op it checks.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "autograd/autograd_test_util.h"
#include "nn/all.h"
#include "tensor/parallel.h"

// gradcheck(fn, inputs...) as a doctest check that reports the worst element; a macro, so that a
// failure points at the caller's line.
#define CHECK_GRADCHECK(fn, ...)                                                       \
  do {                                                                                 \
    const auto gradcheck_result_ = ::seqgrad::testing::run_gradcheck(fn, __VA_ARGS__); \
    CHECK_MESSAGE(gradcheck_result_.ok, gradcheck_result_.report);                     \
  } while (false)

namespace seqgrad::testing {

// The output of op on fresh leaves made from `in`, then the gradient of every input for the loss
// sum(output * weights): a fused op and its composed reference are compared on these.
inline std::vector<Tensor> output_and_grads(
    const std::vector<Tensor>& in, const Tensor& weights,
    const std::function<Variable(const std::vector<Variable>&)>& op) {
  std::vector<Variable> leaves;
  for (const Tensor& t : in) leaves.emplace_back(t.clone(), true);
  const Variable out = op(leaves);
  sum(out * Variable(weights)).backward();
  std::vector<Tensor> result{out.value().clone()};
  for (const Variable& v : leaves) result.push_back(v.grad().clone());
  return result;
}

// Thread-count tests change the global setting; this puts it back to 1 however the test ends.
struct RestoreOneThread {
  RestoreOneThread() = default;
  ~RestoreOneThread() { set_num_threads(1); }
  RestoreOneThread(const RestoreOneThread&) = delete;
  RestoreOneThread& operator=(const RestoreOneThread&) = delete;
};

// Every element within rtol of the expected value (plus a tiny absolute floor for the values that
// are zero up to rounding). Reports the first mismatch only, so a broken op fails in one line.
inline void expect_close(const Tensor& got, const Tensor& expected, double rtol = 1e-10,
                         double atol = 1e-12) {
  REQUIRE(got.defined());
  REQUIRE_MESSAGE(got.shape() == expected.shape(),
                  fmt::format("shape {} != expected {}", got.shape(), expected.shape()));
  const auto g = got.to(kFloat64).contiguous().to_vector<double>();
  const auto e = expected.to(kFloat64).contiguous().to_vector<double>();
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (!(std::abs(g[i] - e[i]) <= atol + rtol * std::abs(e[i]))) {
      FAIL_CHECK(fmt::format("element {}: got {:.17g}, expected {:.17g} (error {:.3g})", i, g[i],
                             e[i], std::abs(g[i] - e[i])));
      return;
    }
  }
}

// A float64 tensor with distinct values 0.1 apart in a random order: max pooling's argmax stays
// put under gradcheck's perturbations, so its gradient is well defined.
inline Tensor distinct64(const Dims& shape, Generator& gen) {
  return (randperm(shape.numel(), &gen).to(kFloat64) * 0.1 -
          0.05 * static_cast<double>(shape.numel()))
      .reshape(shape);
}

// Sum of output * weights: turns a tensor-valued op into a scalar whose gradient is gy = weights.
inline Variable weighted_sum(const Variable& y, const Tensor& weights) {
  return sum(y * Variable(weights));
}

// --- tests/fixtures/nn.json
// -----------------------------------------------------------------------

// ctest runs the tests in tests/, so the path is relative to it.
inline const nlohmann::json& nn_fixture() {
  static const nlohmann::json fixture = [] {
    std::ifstream in("fixtures/nn.json");
    REQUIRE_MESSAGE(in.good(), "cannot open fixtures/nn.json (run the tests from tests/)");
    return nlohmann::json::parse(in);
  }();
  return fixture;
}

inline Tensor fixture_tensor(const nlohmann::json& j) {
  const auto shape = j["shape"].get<std::vector<std::int64_t>>();
  const Dims dims{std::span<const std::int64_t>(shape)};
  const auto data = j["data"].get<std::vector<double>>();
  // from_vector reads an empty shape as 1-D; a 0-d value (a reduced loss) needs scalar_tensor.
  return dims.empty() ? scalar_tensor(data.at(0), kFloat64) : from_vector(data, dims);
}

inline Tensor fixture_int_tensor(const nlohmann::json& j) {
  const auto shape = j["shape"].get<std::vector<std::int64_t>>();
  return from_vector(j["data"].get<std::vector<std::int64_t>>(),
                     Dims{std::span<const std::int64_t>(shape)});
}

inline nn::functional::Reduction fixture_reduction(const nlohmann::json& options) {
  const auto r = options.at("reduction").get<std::string>();
  if (r == "mean") return nn::functional::Reduction::Mean;
  if (r == "sum") return nn::functional::Reduction::Sum;
  REQUIRE(r == "none");
  return nn::functional::Reduction::None;
}

// Calls the seqgrad op of fixture case `c` on Variables `v` (its float tensors, by name) and
// tensors `ints` (its integer tensors). An op name the runner does not know fails the test.
inline Variable run_fixture_op(const nlohmann::json& c, const std::map<std::string, Variable>& v,
                               const std::map<std::string, Tensor>& ints) {
  namespace F = nn::functional;
  const auto op = c["op"].get<std::string>();
  const nlohmann::json& o = c["options"];
  auto var = [&](const char* name) {
    auto it = v.find(name);
    return it == v.end() ? Variable() : it->second;
  };
  auto integer = [&](const char* key, int i = -1) {
    return (i < 0 ? o.at(key) : o.at(key).at(i)).get<std::int64_t>();
  };
  if (op == "linear") return F::linear(var("x"), var("weight"), var("bias"));
  if (op == "embedding") {
    std::optional<std::int64_t> pad;
    if (o.contains("padding_idx")) pad = integer("padding_idx");
    return F::embedding(ints.at("ids"), var("weight"), pad);
  }
  if (op == "conv2d") {
    F::Conv2dOptions opt;
    opt.stride_h = integer("stride", 0);
    opt.stride_w = integer("stride", 1);
    opt.pad_h = integer("padding", 0);
    opt.pad_w = integer("padding", 1);
    opt.dilation_h = integer("dilation", 0);
    opt.dilation_w = integer("dilation", 1);
    return F::conv2d(var("x"), var("weight"), var("bias"), opt);
  }
  if (op == "conv1d")
    return F::conv1d(var("x"), var("weight"), var("bias"), integer("stride"), integer("padding"),
                     integer("dilation"));
  if (op == "max_pool2d")
    return F::max_pool2d(var("x"), integer("kernel"), integer("stride"), integer("padding"));
  if (op == "avg_pool2d")
    return F::avg_pool2d(var("x"), integer("kernel"), integer("stride"), integer("padding"));
  if (op == "layer_norm") {
    const auto shape = o.at("normalized_shape").get<std::vector<std::int64_t>>();
    return F::layer_norm(var("x"), Dims{std::span<const std::int64_t>(shape)}, var("weight"),
                         var("bias"), o.at("eps").get<double>());
  }
  if (op == "gelu") return F::gelu(var("x"));
  if (op == "cross_entropy")
    return F::cross_entropy(var("logits"), ints.at("target"), fixture_reduction(o),
                            integer("ignore_index"), o.at("label_smoothing").get<double>());
  if (op == "nll_loss")
    return F::nll_loss(var("log_probs"), ints.at("target"), fixture_reduction(o),
                       integer("ignore_index"));
  if (op == "mse_loss") return F::mse_loss(var("input"), var("target"), fixture_reduction(o));
  if (op == "binary_cross_entropy_with_logits")
    return F::binary_cross_entropy_with_logits(var("logits"), var("target"), fixture_reduction(o));
  FAIL("no runner for fixture op '" << op << "'");
  return {};
}

// Runs every fixture case whose op is in `ops`: checks the output and the gradients of
// sum(output * out_weight) against PyTorch to 1e-10 relative. Returns the ops that had cases, so
// the caller can check that none went missing from the fixture file.
inline std::set<std::string> check_fixture_cases(const std::set<std::string>& ops) {
  std::set<std::string> seen;
  for (const auto& c : nn_fixture()["cases"]) {
    const auto op = c["op"].get<std::string>();
    if (!ops.count(op)) continue;
    seen.insert(op);
    INFO("fixture case: ", c["name"].get<std::string>());
    std::map<std::string, Variable> v;
    for (const auto& [name, t] : c["tensors"].items())
      v.emplace(name, Variable(fixture_tensor(t), /*requires_grad=*/true));
    std::map<std::string, Tensor> ints;
    for (const auto& [name, t] : c["ints"].items()) ints.emplace(name, fixture_int_tensor(t));

    const Variable y = run_fixture_op(c, v, ints);
    {
      INFO("output");
      expect_close(y.value(), fixture_tensor(c["output"]));
    }
    weighted_sum(y, fixture_tensor(c["out_weight"])).backward();
    for (const auto& [name, g] : c["grads"].items()) {
      INFO("gradient of ", name);
      const Variable& leaf = v.at(name);
      // A leaf the output does not reach has no gradient; PyTorch's zeros stand for it.
      expect_close(leaf.grad().defined() ? leaf.grad() : zeros_like(leaf.value()),
                   fixture_tensor(g));
    }
  }
  return seen;
}

}  // namespace seqgrad::testing
