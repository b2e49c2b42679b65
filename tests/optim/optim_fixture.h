// Access to tests/fixtures/optim.json (written by tools/make_optim_fixtures.py from PyTorch 1.13)
// and the helpers the optim tests share: build its parameters, feed its gradients, and build an
// optimiser from a case's type name and PyTorch keyword arguments.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "optim/all.h"

namespace seqgrad::testing {

// ctest runs the tests in tests/, so the path is relative to it.
inline const nlohmann::json& optim_fixture() {
  static const nlohmann::json fixture = [] {
    std::ifstream in("fixtures/optim.json");
    REQUIRE_MESSAGE(in.good(), "cannot open fixtures/optim.json (run the tests from tests/)");
    return nlohmann::json::parse(in);
  }();
  return fixture;
}

// Fresh float64 copies of the fixture's starting parameters.
inline std::vector<Variable> fixture_params() {
  std::vector<Variable> params;
  for (const auto& p : optim_fixture()["params"]) {
    const auto shape = p["shape"].get<std::vector<std::int64_t>>();
    params.emplace_back(from_vector(p["values"].get<std::vector<double>>(), Dims(shape)), true);
  }
  return params;
}

// Sets the gradients of step k of sequence `seq` ("default" or "skip"); null means none.
inline void set_fixture_grads(const std::vector<Variable>& params, const std::string& seq,
                              std::size_t k) {
  const auto& grads = optim_fixture()["grads"][seq][k];
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (grads[i].is_null())
      params[i].zero_grad();
    else
      params[i].set_grad(from_vector(grads[i].get<std::vector<double>>(), params[i].shape()));
  }
}

inline std::size_t fixture_steps(const std::string& seq) {
  return optim_fixture()["grads"][seq].size();
}

// Builds `type` ("SGD", "Adam", ...) from PyTorch keyword arguments; absent ones keep defaults.
inline std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& type,
                                                        const nlohmann::json& kw,
                                                        std::vector<Variable> params) {
  using namespace optim;
  auto betas = [&](std::pair<double, double> d) {
    if (!kw.contains("betas")) return d;
    return std::pair(kw["betas"][0].get<double>(), kw["betas"][1].get<double>());
  };
  if (type == "SGD")
    return std::make_unique<SGD>(params, SGDOptions{.lr = kw.value("lr", std::nan("")),
                                                    .momentum = kw.value("momentum", 0.0),
                                                    .dampening = kw.value("dampening", 0.0),
                                                    .weight_decay = kw.value("weight_decay", 0.0),
                                                    .nesterov = kw.value("nesterov", false)});
  if (type == "Adam") {
    const AdamOptions d;
    return std::make_unique<Adam>(
        params, AdamOptions{.lr = kw.value("lr", d.lr),
                            .betas = betas(d.betas),
                            .eps = kw.value("eps", d.eps),
                            .weight_decay = kw.value("weight_decay", d.weight_decay),
                            .amsgrad = kw.value("amsgrad", d.amsgrad)});
  }
  if (type == "AdamW") {
    const AdamWOptions d;
    return std::make_unique<AdamW>(
        params, AdamWOptions{.lr = kw.value("lr", d.lr),
                             .betas = betas(d.betas),
                             .eps = kw.value("eps", d.eps),
                             .weight_decay = kw.value("weight_decay", d.weight_decay),
                             .amsgrad = kw.value("amsgrad", d.amsgrad)});
  }
  if (type == "RMSprop") {
    const RMSpropOptions d;
    return std::make_unique<RMSprop>(
        params, RMSpropOptions{.lr = kw.value("lr", d.lr),
                               .alpha = kw.value("alpha", d.alpha),
                               .eps = kw.value("eps", d.eps),
                               .weight_decay = kw.value("weight_decay", d.weight_decay),
                               .momentum = kw.value("momentum", d.momentum),
                               .centered = kw.value("centered", false)});
  }
  if (type == "Adagrad") {
    const AdagradOptions d;
    return std::make_unique<Adagrad>(
        params, AdagradOptions{.lr = kw.value("lr", d.lr),
                               .lr_decay = kw.value("lr_decay", d.lr_decay),
                               .weight_decay = kw.value("weight_decay", d.weight_decay),
                               .initial_accumulator_value = kw.value("initial_accumulator_value",
                                                                     d.initial_accumulator_value),
                               .eps = kw.value("eps", d.eps)});
  }
  FAIL("unknown optimiser type " << type);
  return nullptr;
}

// |got - want| <= tol * max(1, |want|) for every element, reporting the first mismatch.
inline void expect_close(const std::vector<double>& got, const std::vector<double>& want,
                         double tol = 1e-10) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const bool ok = std::abs(got[i] - want[i]) <= tol * std::max(1.0, std::abs(want[i]));
    CHECK_MESSAGE(ok, "element " << i << ": got " << got[i] << ", PyTorch " << want[i]);
    if (!ok) return;
  }
}

inline std::vector<double> values(const Tensor& t) { return t.to(kFloat64).to_vector<double>(); }

}  // namespace seqgrad::testing
