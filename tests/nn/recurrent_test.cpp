// The recurrent cells and sequence modules: fused kernels against the same equations composed from
// primitive ops (float64, 1e-6), gradcheck of every module shape (multi-layer, bidirectional,
// ragged batches), padding semantics checked against running each sequence alone, PyTorch's
// parameter names, and the errors.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/nn_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;

using Vars = std::vector<Variable>;

namespace {

nn::CellConfig config64(std::int64_t in, std::int64_t hidden, Generator& gen) {
  return {in, hidden, kFloat64, &gen};
}

// The composed (primitive-op) step for a built-in cell, reading the cell's own parameters.
nn::State composed_step(const nn::Cell& cell, const Variable& x, const nn::State& s) {
  if (auto* c = dynamic_cast<const nn::LSTMCell*>(&cell))
    return nn::composed::lstm_step(x, s[0], s[1], c->weight_ih, c->weight_hh, c->bias_ih,
                                   c->bias_hh);
  if (auto* c = dynamic_cast<const nn::GRUCell*>(&cell))
    return {nn::composed::gru_step(x, s[0], c->weight_ih, c->weight_hh, c->bias_ih, c->bias_hh,
                                   c->reset)};
  auto* c = dynamic_cast<const nn::RNNCell*>(&cell);
  REQUIRE(c != nullptr);
  return {nn::composed::rnn_step(x, s[0], c->weight_ih, c->weight_hh, c->bias_ih, c->bias_hh,
                                 c->activation)};
}

// Output and gradients of loss = sum(weights * outputs) for every parameter and the input.
struct Run {
  std::vector<Tensor> values;
};

Run outputs_and_grads(nn::Cell& cell, const Variable& x, const std::vector<Variable>& outs,
                      Generator& gen) {
  Variable loss;
  Run r;
  for (const Variable& o : outs) {
    const Variable term = sum(o * Variable(randn(o.shape(), kFloat64, &gen)));
    loss = loss.defined() ? loss + term : term;
    r.values.push_back(o.value());
  }
  cell.zero_grad();
  loss.backward();
  for (const Variable& p : cell.parameters()) r.values.push_back(p.grad());
  r.values.push_back(x.grad());
  return r;
}

void expect_same(const Run& a, const Run& b, double rtol) {
  REQUIRE(a.values.size() == b.values.size());
  for (std::size_t i = 0; i < a.values.size(); ++i) {
    CAPTURE(i);
    expect_close(a.values[i], b.values[i], rtol, 1e-12);
  }
}

const std::vector<std::string> kBuiltins = {"rnn_tanh", "rnn_relu", "lstm", "gru", "gru_cho"};

}  // namespace

TEST_CASE("recurrent: fused cells equal the composed equations over a sequence (float64)") {
  constexpr std::int64_t T = 5, B = 3, I = 4, H = 3;
  for (const std::string& name : kBuiltins) {
    CAPTURE(name);
    Generator gen(5);
    auto cell = nn::make_cell(name, config64(I, H, gen));
    const Tensor x0 = randn({T, B, I}, kFloat64, &gen);
    nn::State s0;
    for (int k = 0; k < cell->state_size(); ++k) s0.emplace_back(randn({B, H}, kFloat64, &gen));

    Generator w1(9), w2(9);  // the same loss weights for both runs
    const Variable xf(x0.clone(), true);
    const auto fused = cell->run(xf, s0);
    std::vector<Variable> fused_outs = {fused.output};
    for (const Variable& v : fused.state) fused_outs.push_back(v);
    const Run a = outputs_and_grads(*cell, xf, fused_outs, w1);

    const Variable xc(x0.clone(), true);
    nn::State s = s0;
    std::vector<Variable> steps;
    for (std::int64_t t = 0; t < T; ++t) {
      s = composed_step(*cell, xc.select(0, t), s);
      steps.push_back(s[0]);
    }
    std::vector<Variable> composed_outs = {stack(steps, 0)};
    for (const Variable& v : s) composed_outs.push_back(v);
    const Run b = outputs_and_grads(*cell, xc, composed_outs, w2);
    expect_same(a, b, 1e-6);
  }
}

// A cell that only has step() (the fused one underneath), so that run() is Cell's generic loop:
// its masking of ended sequences must agree with the fused kernels' own.
class StepOnly : public nn::Cell {
 public:
  explicit StepOnly(std::shared_ptr<nn::Cell> inner)
      : Cell("StepOnly", inner->input_size(), inner->hidden_size(), inner->state_size()),
        inner_(std::move(inner)) {
    for (const auto& [n, p] : inner_->named_parameters()) register_parameter(n, p);
  }
  nn::State step(const Variable& x, const nn::State& s) override { return inner_->step(x, s); }

 private:
  std::shared_ptr<nn::Cell> inner_;
};

TEST_CASE("recurrent: generic Cell::run equals the fused run on ragged batches, both directions") {
  constexpr std::int64_t T = 5, B = 4, I = 3, H = 2;
  const std::vector<std::int64_t> lengths = {5, 2, 0, 4};
  for (const std::string& name : kBuiltins)
    for (const bool reverse : {false, true}) {
      CAPTURE(name);
      CAPTURE(reverse);
      Generator gen(6);
      auto cell = nn::make_cell(name, config64(I, H, gen));
      StepOnly generic(cell);
      const Tensor x0 = randn({T, B, I}, kFloat64, &gen);
      Generator w1(3), w2(3);
      const Variable xa(x0.clone(), true), xb(x0.clone(), true);
      const auto fused = cell->run(xa, {}, lengths, reverse);
      const auto loop = generic.run(xb, {}, lengths, reverse);
      std::vector<Variable> fa = {fused.output}, lb = {loop.output};
      for (const Variable& v : fused.state) fa.push_back(v);
      for (const Variable& v : loop.state) lb.push_back(v);
      expect_same(outputs_and_grads(*cell, xa, fa, w1), outputs_and_grads(generic, xb, lb, w2),
                  1e-12);
    }
}

TEST_CASE("recurrent: a padded sequence gives what the sequence alone gives") {
  // Independent of any masking code: each sequence run alone, truncated to its length.
  constexpr std::int64_t T = 6, B = 3, I = 2, H = 3;
  const std::vector<std::int64_t> lengths = {6, 3, 1};
  for (const std::string& name : {std::string("lstm"), std::string("gru"), std::string("mgu")}) {
    CAPTURE(name);
    Generator gen(8);
    nn::Recurrent net(name, I, H,
                      {.num_layers = 2, .bidirectional = true, .dtype = kFloat64, .gen = &gen});
    const Tensor x = randn({T, B, I}, kFloat64, &gen);
    const auto batch = net(Variable(x), {}, lengths);
    for (std::int64_t b = 0; b < B; ++b) {
      CAPTURE(b);
      const std::int64_t len = lengths[static_cast<std::size_t>(b)];
      const Tensor alone_x = x.narrow(0, 0, len).narrow(1, b, 1);
      const auto alone = net(Variable(alone_x));
      expect_close(batch.output.value().narrow(0, 0, len).narrow(1, b, 1), alone.output.value(),
                   1e-12, 1e-14);
      if (len < T)
        CHECK(allclose(batch.output.value().narrow(0, len, T - len).narrow(1, b, 1),
                       zeros({T - len, 1, 2 * H}, kFloat64), 0.0, 0.0));
      for (std::size_t k = 0; k < batch.state.size(); ++k)
        expect_close(batch.state[k].value().narrow(1, b, 1), alone.state[k].value(), 1e-12, 1e-14);
    }
  }
}

// Central differences on every parameter element of a module, against backward(): gradcheck
// proper needs the parameters as its own leaves, which a module's parameters cannot be swapped for.
void check_parameter_grads(nn::Module& m, const std::function<Variable()>& loss_fn) {
  m.zero_grad();
  loss_fn().backward();
  constexpr double eps = 1e-6;
  for (const auto& [name, p] : m.named_parameters()) {
    CAPTURE(name);
    const Tensor grad = p.grad().contiguous();
    double* w = p.value().data<double>();
    for (std::int64_t i = 0; i < p.numel(); ++i) {
      const double saved = w[i];
      double plus, minus;
      {
        NoGradGuard no_grad;
        w[i] = saved + eps;
        plus = loss_fn().item();
        w[i] = saved - eps;
        minus = loss_fn().item();
        w[i] = saved;
      }
      const double numeric = (plus - minus) / (2 * eps), analytic = grad.data<double>()[i];
      CHECK_MESSAGE(
          std::abs(numeric - analytic) <= 1e-5 + 1e-3 * std::abs(numeric),
          fmt::format("element {}: backward {} vs finite differences {}", i, analytic, numeric));
    }
  }
}

TEST_CASE("gradcheck: sequence modules (multi-layer, bidirectional, ragged, initial state)") {
  constexpr std::int64_t T = 3, B = 2, I = 2, H = 2;
  const std::vector<std::int64_t> lengths = {3, 2};
  for (const std::string& name : {std::string("rnn_tanh"), std::string("lstm"), std::string("gru"),
                                  std::string("gru_cho"), std::string("mgu")})
    for (const bool bidirectional : {false, true}) {
      CAPTURE(name);
      CAPTURE(bidirectional);
      Generator gen(12);
      nn::Recurrent net(
          name, I, H,
          {.num_layers = 2, .bidirectional = bidirectional, .dtype = kFloat64, .gen = &gen});
      const std::int64_t D = bidirectional ? 2 : 1;
      const int S = net.cells().front()->state_size();
      std::vector<Tensor> inputs = {randn({T, B, I}, kFloat64, &gen)};
      for (int k = 0; k < S; ++k) inputs.push_back(randn({2 * D, B, H}, kFloat64, &gen));
      const Tensor weights = randn({T, B, D * H}, kFloat64, &gen);
      auto loss = [&](const Vars& v) {
        const auto out = net(v[0], nn::State(v.begin() + 1, v.end()), lengths);
        Variable total = sum(out.output * Variable(weights));
        for (const Variable& st : out.state) total = total + sum(st * st);
        return total;
      };
      CHECK_GRADCHECK(loss, inputs);  // input and initial state
      Vars fixed;
      for (const Tensor& t : inputs) fixed.emplace_back(t);
      check_parameter_grads(net, [&] { return loss(fixed); });
    }
}

TEST_CASE("recurrent: PyTorch parameter names and shapes") {
  nn::LSTM lstm(3, 4, {.num_layers = 2, .bidirectional = true});
  const auto params = lstm.named_parameters();
  REQUIRE(params.size() == 16);
  CHECK(params[0].first == "weight_ih_l0");
  CHECK(params[0].second.shape() == Dims{16, 3});
  CHECK(params[1].first == "weight_hh_l0");
  CHECK(params[3].first == "bias_hh_l0");
  CHECK(params[4].first == "weight_ih_l0_reverse");
  CHECK(params[8].first == "weight_ih_l1");
  CHECK(params[8].second.shape() == Dims{16, 8});  // reads both directions of layer 0
  CHECK(params[15].first == "bias_hh_l1_reverse");
  nn::GRU gru(2, 5);
  CHECK(gru.named_parameters()[1].second.shape() == Dims{15, 5});
  nn::RNN rnn(2, 5, {}, "relu");
  CHECK(rnn.cell_name() == "rnn_relu");
}

TEST_CASE("recurrent: shapes of outputs and states, batch_first") {
  nn::LSTM lstm(3, 4, {.num_layers = 2, .bidirectional = true, .batch_first = true});
  const auto out = lstm(Variable(randn({5, 7, 3})));  // B = 5, T = 7
  CHECK(out.output.shape() == Dims{5, 7, 8});
  REQUIRE(out.state.size() == 2);
  CHECK(out.state[0].shape() == Dims{4, 5, 4});
  CHECK(out.state[1].shape() == Dims{4, 5, 4});
}

TEST_CASE("recurrent: errors name the module and the shapes") {
  nn::GRU gru(3, 4);
  CHECK_THROWS_WITH_AS(gru(Variable(randn({5, 2, 4}))), doctest::Contains("[T, B, I] with I = 3"),
                       Error);
  CHECK_THROWS_WITH_AS(gru(Variable(randn({5, 2, 3})), {Variable(zeros({1, 3, 4}))}),
                       doctest::Contains("[1, 2, 4]"), Error);
  CHECK_THROWS_WITH_AS(gru(Variable(randn({5, 2, 3})), {}, {5, 6}),
                       doctest::Contains("outside [0, 5]"), Error);
  CHECK_THROWS_WITH_AS(gru(Variable(randn({5, 2, 3})), {}, {5}),
                       doctest::Contains("1 lengths given for a batch of 2"), Error);
  CHECK_THROWS_WITH_AS(nn::make_cell("lsmt", {3, 4}), doctest::Contains("registered: gru"), Error);
  CHECK_THROWS_WITH_AS(nn::RNN(3, 4, {}, "sigmoid"), doctest::Contains("'tanh' or 'relu'"), Error);
  CHECK_THROWS_WITH_AS(
      nn::register_cell("gru", [](const nn::CellConfig& c) { return nn::make_cell("lstm", c); }),
      doctest::Contains("already registered"), Error);
  CHECK_THROWS_WITH_AS(F::gru_sequence(Variable(zeros({2, 3, 12})), Variable(zeros({3, 4})),
                                       Variable(zeros({12, 5})), Variable(zeros({12}))),
                       doctest::Contains("w_hh must be [12, 4]"), Error);
  nn::GRUCell cell({3, 4});
  CHECK_THROWS_WITH_AS(cell.step(Variable(zeros({2, 5})), {}), doctest::Contains("[B, 3]"), Error);
}
