// Every optimiser, clipping function and scheduler against the values PyTorch 1.13 computed for
// the same inputs (tests/fixtures/optim.json), to 1e-10 in float64.
#include <cmath>
#include <limits>
#include <string>

#include "optim/all.h"
#include "optim_fixture.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

// Runs every fixture case of `type` and compares the parameters after each step.
void check_optimizer_cases(const std::string& type) {
  int cases = 0;
  for (const auto& c : optim_fixture()["optimizers"]) {
    if (c["type"] != type) continue;
    ++cases;
    const std::string name = c["name"], seq = c["grads"];
    INFO("case ", name);
    const auto params = fixture_params();
    auto opt = make_optimizer(type, c["options"], params);
    const auto& steps = c["steps"];
    REQUIRE(steps.size() == fixture_steps(seq));
    for (std::size_t k = 0; k < steps.size(); ++k) {
      INFO("after step ", k + 1);
      set_fixture_grads(params, seq, k);
      opt->step();
      for (std::size_t i = 0; i < params.size(); ++i) {
        INFO("parameter ", i);
        expect_close(values(params[i].value()), steps[k][i].get<std::vector<double>>());
      }
    }
  }
  CHECK(cases >= 4);  // the fixture covers several settings of each optimiser
}

}  // namespace

TEST_CASE("fixtures: SGD matches PyTorch (momentum, dampening, nesterov, weight decay)") {
  check_optimizer_cases("SGD");
}

TEST_CASE("fixtures: Adam matches PyTorch (betas, eps, weight decay, amsgrad)") {
  check_optimizer_cases("Adam");
}

TEST_CASE("fixtures: AdamW matches PyTorch (decoupled weight decay, amsgrad)") {
  check_optimizer_cases("AdamW");
}

TEST_CASE("fixtures: RMSprop matches PyTorch (alpha, weight decay, momentum, centered)") {
  check_optimizer_cases("RMSprop");
}

TEST_CASE("fixtures: Adagrad matches PyTorch (lr_decay, weight decay, initial accumulator)") {
  check_optimizer_cases("Adagrad");
}

TEST_CASE("fixtures: clip_grad_norm_ matches PyTorch for norms 1, 2, 3 and infinity") {
  for (const auto& c : optim_fixture()["clip_grad_norm"]) {
    const double norm_type = c["norm_type"].is_string() ? std::numeric_limits<double>::infinity()
                                                        : c["norm_type"].get<double>();
    const double max_norm = c["max_norm"];
    INFO("max_norm ", max_norm, " norm_type ", norm_type);
    const auto params = fixture_params();
    set_fixture_grads(params, "default", 0);
    const double total = optim::clip_grad_norm_(params, max_norm, norm_type);
    expect_close({total}, {c["total_norm"].get<double>()});
    for (std::size_t i = 0; i < params.size(); ++i)
      expect_close(values(params[i].grad()), c["grads"][i].get<std::vector<double>>());
  }
}

TEST_CASE("fixtures: clip_grad_value_ matches PyTorch") {
  for (const auto& c : optim_fixture()["clip_grad_value"]) {
    const double clip_value = c["clip_value"];
    INFO("clip_value ", clip_value);
    const auto params = fixture_params();
    set_fixture_grads(params, "default", 0);
    optim::clip_grad_value_(params, clip_value);
    for (std::size_t i = 0; i < params.size(); ++i)
      expect_close(values(params[i].grad()), c["grads"][i].get<std::vector<double>>());
  }
}

TEST_CASE("fixtures: StepLR, CosineAnnealingLR and LinearLR give PyTorch's lr sequences") {
  for (const auto& c : optim_fixture()["schedulers"]) {
    const std::string type = c["type"];
    const auto& kw = c["options"];
    INFO("case ", c["name"].get<std::string>());
    optim::SGD opt(fixture_params(), {.lr = c["base_lr"].get<double>()});
    std::unique_ptr<optim::LRScheduler> sched;
    if (type == "StepLR")
      sched = std::make_unique<optim::StepLR>(opt, kw["step_size"].get<std::int64_t>(),
                                              kw.value("gamma", 0.1));
    else if (type == "CosineAnnealingLR")
      sched = std::make_unique<optim::CosineAnnealingLR>(opt, kw["T_max"].get<std::int64_t>(),
                                                         kw.value("eta_min", 0.0));
    else if (type == "LinearLR")
      sched = std::make_unique<optim::LinearLR>(opt, kw.value("start_factor", 1.0 / 3),
                                                kw.value("end_factor", 1.0),
                                                kw.value("total_iters", std::int64_t{5}));
    REQUIRE_MESSAGE(sched, "unknown scheduler " << type);
    const auto want = c["lrs"].get<std::vector<double>>();
    std::vector<double> got = {opt.lr()};
    CHECK(sched->last_lr() == opt.lr());
    for (std::size_t e = 1; e < want.size(); ++e) {
      sched->step();
      got.push_back(opt.lr());
      CHECK(sched->last_epoch() == static_cast<std::int64_t>(e));
    }
    expect_close(got, want);
  }
}
