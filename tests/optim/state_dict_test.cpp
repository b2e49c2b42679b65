// Optimiser state save and restore: resuming from a state dict continues exactly as the
// uninterrupted run, and bad state dicts are rejected whole, naming the entry, changing nothing.
#include <map>
#include <string>

#include "optim/all.h"
#include "optim_fixture.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

// The richest setting of each optimiser (every buffer in use).
const char* const kRichCases[] = {"sgd_momentum_skip", "adam_amsgrad_weight_decay", "adamw_skip",
                                  "rmsprop_centered_momentum", "adagrad_skip"};

const nlohmann::json& fixture_case(const std::string& name) {
  for (const auto& c : optim_fixture()["optimizers"])
    if (c["name"] == name) return c;
  FAIL("no fixture case " << name);
  return optim_fixture();
}

std::vector<Variable> copy_params(const std::vector<Variable>& params) {
  std::vector<Variable> out;
  for (const Variable& p : params) out.emplace_back(p.value().clone(), true);
  return out;
}

void check_same_state(const std::map<std::string, Tensor>& a,
                      const std::map<std::string, Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& [name, t] : a) {
    INFO("entry ", name);
    REQUIRE(b.count(name));
    CHECK(t.shape() == b.at(name).shape());
    CHECK(values(t) == values(b.at(name)));
  }
}

// A fresh Adam (amsgrad) after 2 steps on the fixture: every kind of entry is present.
struct AdamAfterTwoSteps {
  std::vector<Variable> params = fixture_params();
  optim::Adam opt{params, {.lr = 0.01, .amsgrad = true}};
  AdamAfterTwoSteps() {
    for (std::size_t k = 0; k < 2; ++k) {
      set_fixture_grads(params, "default", k);
      opt.step();
    }
  }
  // load_state_dict(state) must throw naming `needle` and leave state and parameters alone.
  void expect_rejected(const std::map<std::string, Tensor>& state, const std::string& needle) {
    const auto before = opt.state_dict();
    const auto p0 = values(params[0].value());
    try {
      opt.load_state_dict(state);
      FAIL("load_state_dict accepted a bad state; expected an error naming " << needle);
    } catch (const Error& e) {
      const std::string msg = e.what();
      CHECK_MESSAGE(msg.find(needle) != std::string::npos, msg);
    }
    check_same_state(opt.state_dict(), before);
    CHECK(values(params[0].value()) == p0);
  }
};

}  // namespace

TEST_CASE("state_dict: save after 3 steps, load into a fresh optimiser, 2 more steps agree") {
  for (const char* name : kRichCases) {
    INFO("case ", name);
    const auto& c = fixture_case(name);
    const std::string type = c["type"], seq = c["grads"];
    const auto params = fixture_params();
    auto opt = make_optimizer(type, c["options"], params);
    for (std::size_t k = 0; k < 3; ++k) {
      set_fixture_grads(params, seq, k);
      opt->step();
    }
    const auto saved = opt->state_dict();
    const auto resumed_params = copy_params(params);
    // Another lr at construction: the state's lr must win.
    auto options = c["options"];
    options["lr"] = 123.0;
    auto resumed = make_optimizer(type, options, resumed_params);
    resumed->load_state_dict(saved);
    CHECK(resumed->lr() == opt->lr());
    CHECK(resumed->steps() == 3);
    check_same_state(resumed->state_dict(), saved);
    for (std::size_t k = 3; k < 5; ++k) {
      set_fixture_grads(params, seq, k);
      set_fixture_grads(resumed_params, seq, k);
      opt->step();
      resumed->step();
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      CHECK(values(resumed_params[i].value()) == values(params[i].value()));
      // ... and both are PyTorch's 5-step result.
      expect_close(values(params[i].value()), c["steps"][4][i].get<std::vector<double>>());
    }
    check_same_state(resumed->state_dict(), opt->state_dict());
  }
}

TEST_CASE("state_dict: PyTorch's buffer names, 0-d float64 scalars, copies not views") {
  AdamAfterTwoSteps a;
  const auto state = a.opt.state_dict();
  std::vector<std::string> names;
  for (const auto& [name, t] : state) names.push_back(name);
  CHECK(names == std::vector<std::string>{"0.exp_avg", "0.exp_avg_sq", "0.max_exp_avg_sq", "0.step",
                                          "1.exp_avg", "1.exp_avg_sq", "1.max_exp_avg_sq", "1.step",
                                          "lr", "step"});
  for (const char* scalar : {"lr", "step", "0.step"}) {
    CHECK(state.at(scalar).dim() == 0);
    CHECK(state.at(scalar).dtype() == kFloat64);
  }
  CHECK(state.at("step").item() == 2);
  CHECK(state.at("lr").item() == 0.01);
  CHECK(state.at("1.exp_avg").shape() == Dims{4});
  const auto m = values(state.at("0.exp_avg"));
  set_fixture_grads(a.params, "default", 2);
  a.opt.step();
  CHECK(values(state.at("0.exp_avg")) == m);  // the saved dict did not move with training

  // Before any step there is no per-parameter state; SGD without momentum has no buffers.
  optim::SGD sgd(fixture_params(), {.lr = 0.1});
  CHECK(sgd.state_dict().size() == 2);
  sgd.params()[0].set_grad(full({2, 3}, 1.0, kFloat64));
  sgd.step();
  const auto sgd_state = sgd.state_dict();
  CHECK(sgd_state.size() == 3);
  CHECK(sgd_state.at("0.step").item() == 1);
}

TEST_CASE("state_dict: a parameter without entries starts afresh after loading") {
  // Load a state saved before any update into an optimiser that has run: back to the start.
  const auto params = fixture_params();
  optim::SGD opt(params, {.lr = 0.1, .momentum = 0.9});
  const auto initial = opt.state_dict();
  set_fixture_grads(params, "default", 0);
  opt.step();
  opt.load_state_dict(initial);
  CHECK(opt.steps() == 0);
  CHECK(opt.state_dict().size() == 2);
  // The next step treats the gradient as the first (buffer = gradient), as a fresh optimiser.
  const auto fresh_params = copy_params(params);
  optim::SGD fresh(fresh_params, {.lr = 0.1, .momentum = 0.9});
  set_fixture_grads(params, "default", 1);
  set_fixture_grads(fresh_params, "default", 1);
  opt.step();
  fresh.step();
  CHECK(values(params[0].value()) == values(fresh_params[0].value()));
}

TEST_CASE("state_dict: bad entries are rejected by name and nothing changes") {
  AdamAfterTwoSteps a;
  const auto good = a.opt.state_dict();
  auto with = [&](const std::string& name, Tensor t) {
    auto s = good;
    s[name] = std::move(t);
    return s;
  };
  auto without = [&](const std::string& name) {
    auto s = good;
    s.erase(name);
    return s;
  };
  const Tensor p0_like = zeros({2, 3}, kFloat64);
  a.expect_rejected(with("0.exp_avgx", p0_like), "'0.exp_avgx'");
  a.expect_rejected(with("2.exp_avg", p0_like), "'2.exp_avg'");  // only 2 parameters
  a.expect_rejected(with("momentum", scalar_tensor(0.9, kFloat64)), "'momentum'");
  a.expect_rejected(with("0.exp_avg", zeros({3, 2}, kFloat64)), "'0.exp_avg'");     // shape
  a.expect_rejected(with("1.exp_avg_sq", zeros({4}, kFloat32)), "'1.exp_avg_sq'");  // dtype
  a.expect_rejected(with("0.max_exp_avg_sq", Tensor()), "'0.max_exp_avg_sq'");      // undefined
  a.expect_rejected(without("step"), "'step'");
  a.expect_rejected(without("lr"), "'lr'");
  a.expect_rejected(without("1.exp_avg_sq"), "'1.exp_avg_sq'");  // parameter 1 incomplete
  a.expect_rejected(without("0.step"), "'0.step'");
  a.expect_rejected(with("lr", scalar_tensor(-0.1, kFloat64)), "'lr'");
  a.expect_rejected(with("lr", scalar_tensor(0.1, kFloat32)), "'lr'");
  a.expect_rejected(with("lr", full({1}, 0.1, kFloat64)), "'lr'");
  a.expect_rejected(with("step", scalar_tensor(1.5, kFloat64)), "'step'");
  a.expect_rejected(with("0.step", scalar_tensor(0.0, kFloat64)), "'0.step'");
  // A bad entry late in the map still stops the good ones before it from being applied.
  auto late = good;
  late["0.exp_avg"] = full({2, 3}, 7.0, kFloat64);
  late["9.step"] = scalar_tensor(1.0, kFloat64);
  a.expect_rejected(late, "'9.step'");
  // A state dict without the amsgrad buffer does not fit an amsgrad optimiser, and vice versa.
  optim::Adam plain(fixture_params(), {.lr = 0.01});
  CHECK_THROWS_WITH_AS(plain.load_state_dict(good), doctest::Contains("'0.max_exp_avg_sq'"), Error);
  const auto plain_params = fixture_params();
  optim::Adam plain2(plain_params, {.lr = 0.01});
  set_fixture_grads(plain_params, "default", 0);
  plain2.step();
  a.expect_rejected(plain2.state_dict(), "'0.max_exp_avg_sq'");
}
