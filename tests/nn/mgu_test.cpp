// The Minimal Gated Unit (nn/mgu.h), the worked example of docs/new-cell.md: one step checked
// against values computed by hand, gradcheck (float64) of step() and of a two-layer bidirectional
// nn::Recurrent("mgu") over a ragged batch, and the registry and parameter names.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "nn/nn_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;
using doctest::Contains;

using Vars = std::vector<Variable>;

TEST_CASE("mgu: one step computed by hand") {
  // I = H = 1, so weight_ih = [W_f; W_h], weight_hh = [U_f; U_h] and bias = [b_f; b_h]. With
  // ln3 = log(3):  W_f = 0, U_f = ln3, b_f = ln3/2;  W_h = ln3/2, U_h = 4/3 ln3, b_h = 0.
  // Row 0: x = 1, h = 0.5
  //   f  = σ(0 + ln3 · 0.5 + ln3/2) = σ(ln3) = 3 / (3 + 1) = 0.75
  //   h~ = tanh(ln3/2 · 1 + 4/3 ln3 · (0.75 · 0.5) + 0) = tanh(ln3) = (3 - 1/3) / (3 + 1/3) = 0.8
  //   h' = (1 - 0.75) · 0.5 + 0.75 · 0.8 = 0.125 + 0.6 = 0.725
  // Row 1: x = -1, h = 0.5
  //   f  = σ(ln3) = 0.75 (W_f = 0: x does not reach the gate)
  //   h~ = tanh(-ln3/2 + ln3/2) = tanh(0) = 0
  //   h' = 0.25 · 0.5 + 0.75 · 0 = 0.125
  const double ln3 = std::log(3.0);
  nn::MGUCell cell({.input_size = 1, .hidden_size = 1, .dtype = kFloat64});
  {
    NoGradGuard no_grad;
    cell.weight_ih.copy_(f64({0.0, ln3 / 2}, {2, 1}));
    cell.weight_hh.copy_(f64({ln3, 4.0 / 3.0 * ln3}, {2, 1}));
    cell.bias.copy_(f64({ln3 / 2, 0.0}, {2}));
  }
  const nn::State next =
      cell(Variable(f64({1.0, -1.0}, {2, 1})), {Variable(f64({0.5, 0.5}, {2, 1}))});
  REQUIRE(next.size() == 1);
  expect_values(next[0].value(), {2, 1}, {0.725, 0.125}, 1e-12);
}

TEST_CASE("gradcheck: MGUCell::step through the input, the state and every parameter") {
  constexpr std::int64_t B = 3, I = 2, H = 3;
  Generator gen(31);
  nn::MGUCell cell({.input_size = I, .hidden_size = H, .dtype = kFloat64, .gen = &gen});
  // gradcheck makes its own leaves from these values: the function points the cell's parameter
  // members at them, so that step() computes with them.
  CHECK_GRADCHECK(
      [&](const Vars& v) {
        cell.weight_ih = v[2];
        cell.weight_hh = v[3];
        cell.bias = v[4];
        return cell.step(v[0], {v[1]})[0];
      },
      {normal64({B, I}, gen), normal64({B, H}, gen), cell.weight_ih.value(), cell.weight_hh.value(),
       cell.bias.value()});
}

TEST_CASE("gradcheck: Recurrent(\"mgu\"), two layers, bidirectional, ragged batch") {
  constexpr std::int64_t T = 4, B = 3, I = 2, H = 2, L = 2, D = 2;
  const std::vector<std::int64_t> lengths = {4, 1, 3};  // unsorted, one much shorter
  Generator gen(32);
  nn::Recurrent net("mgu", I, H,
                    {.num_layers = L, .bidirectional = true, .dtype = kFloat64, .gen = &gen});
  std::vector<nn::MGUCell*> cells;
  std::vector<Tensor> inputs = {normal64({T, B, I}, gen), normal64({L * D, B, H}, gen)};
  for (const auto& c : net.cells()) {
    auto* mgu = dynamic_cast<nn::MGUCell*>(c.get());
    REQUIRE(mgu != nullptr);
    cells.push_back(mgu);
    for (const Variable& p : {mgu->weight_ih, mgu->weight_hh, mgu->bias})
      inputs.push_back(p.value());
  }
  CHECK_GRADCHECK(
      [&](const Vars& v) {
        std::size_t k = 2;
        for (nn::MGUCell* c : cells) {
          c->weight_ih = v[k++];
          c->weight_hh = v[k++];
          c->bias = v[k++];
        }
        const nn::RecurrentOutput out = net(v[0], {v[1]}, lengths);
        // Every output and the final state, each element checked.
        return cat({out.output.flatten(), out.state[0].flatten()}, 0);
      },
      inputs);
}

TEST_CASE("mgu: registered by name, PyTorch-style parameter names") {
  const auto names = nn::cell_names();
  CHECK(std::find(names.begin(), names.end(), "mgu") != names.end());
  auto cell = nn::make_cell("mgu", {.input_size = 3, .hidden_size = 5});
  REQUIRE(dynamic_cast<nn::MGUCell*>(cell.get()) != nullptr);
  CHECK(cell->state_size() == 1);
  const auto params = cell->named_parameters();
  REQUIRE(params.size() == 3);
  CHECK(params[0].first == "weight_ih");
  CHECK(params[0].second.shape() == Dims{10, 3});
  CHECK(params[1].first == "weight_hh");
  CHECK(params[1].second.shape() == Dims{10, 5});
  CHECK(params[2].first == "bias");
  CHECK(params[2].second.shape() == Dims{10});

  nn::Recurrent net("mgu", 3, 5, {.num_layers = 2, .bidirectional = true});
  std::vector<std::string> got;
  for (const auto& [name, p] : net.named_parameters()) got.push_back(name);
  CHECK(got == std::vector<std::string>{
                   "weight_ih_l0", "weight_hh_l0", "bias_l0", "weight_ih_l0_reverse",
                   "weight_hh_l0_reverse", "bias_l0_reverse", "weight_ih_l1", "weight_hh_l1",
                   "bias_l1", "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_l1_reverse"});
  CHECK(net(Variable(randn({7, 2, 3}))).output.shape() == Dims{7, 2, 10});

  CHECK_THROWS_WITH_AS(
      nn::register_cell("mgu",
                        [](const nn::CellConfig& c) { return std::make_shared<nn::MGUCell>(c); }),
      Contains("already registered"), Error);
  CHECK_THROWS_WITH_AS(nn::make_cell("mgu_typo", {.input_size = 3, .hidden_size = 5}),
                       Contains("registered: "), Error);
}

TEST_CASE("mgu: an empty sequence gives no outputs and the initial state, as the fused cells do") {
  Generator gen(33);
  for (const std::string& name : {std::string("mgu"), std::string("gru")}) {
    CAPTURE(name);
    nn::Recurrent net(name, 3, 4, {.bidirectional = true, .dtype = kFloat64, .gen = &gen});
    const Variable h0(randn({2, 5, 4}, kFloat64, &gen), /*requires_grad=*/true);
    const auto out = net(Variable(zeros({0, 5, 3}, kFloat64)), {h0});
    CHECK(out.output.shape() == Dims{0, 5, 8});
    expect_close(out.state[0].value(), h0.value(), 0.0, 0.0);
    sum(out.state[0]).backward();
    expect_close(h0.grad(), ones({2, 5, 4}, kFloat64), 0.0, 0.0);
  }
}
