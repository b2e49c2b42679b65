// The recurrent modules against PyTorch 1.13 through tests/fixtures/rnn.json (written by
// tools/make_rnn_fixtures.py): nn.RNN (tanh, relu), nn.LSTM and nn.GRU with one and two layers,
// bidirectional, batch_first, an explicit initial state and variable lengths (packed sequences);
// nn.RNNCell, nn.LSTMCell and nn.GRUCell for one step; and Cho et al.'s reset-before GRU
// (EncoderGRU of cho.py), which GRUCell with GruReset::Before must equal. For each case the same
// parameters (by PyTorch's names), input and initial state go in, and the outputs, the final
// state and the gradients of a fixed weighted sum of all of them (with respect to every parameter,
// the input and the initial state) must equal PyTorch's: float32 to 1e-5 relative, and float64 to
// 1e-10 against PyTorch's float64 run.
//
// Where seqgrad has more than one route to the same computation, every route is checked: a cell
// also through the generic loop of Cell::run (one step() per time step) and through the composed
// equations of nn/cells_composed.h, and the reset-before GRU also as nn::Recurrent("gru_cho").
#include <functional>
#include <memory>

#include "nn/nn_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;
using nlohmann::json;

namespace {

const json& rnn_fixture() {
  static const json fixture = [] {
    std::ifstream in("fixtures/rnn.json");
    REQUIRE_MESSAGE(in.good(), "cannot open fixtures/rnn.json (run the tests from tests/)");
    return json::parse(in);
  }();
  return fixture;
}

// Parameters, inputs and loss weights are float32 values stored with the shortest decimals that
// give them back in float32: they are rounded to float32 before any float64 use.
Tensor fixture_tensor(const json& j, DType dtype) {
  return testing::fixture_tensor(j).to(kFloat32).to(dtype);
}

struct Forward {
  Variable output;  // undefined for a single step of a cell
  nn::State state;
};

// One seqgrad route to a fixture case: a module holding the parameters (loaded by PyTorch's name
// plus `suffix`) and how to run it.
struct Route {
  std::string label;
  std::shared_ptr<nn::Module> module;
  std::string suffix;
  std::function<Forward(const Variable& x, const nn::State& s0,
                        const std::vector<std::int64_t>& lengths)>
      run;
};

F::RnnActivation activation(const json& config) {
  const auto nl = config.at("nonlinearity").get<std::string>();
  REQUIRE((nl == "tanh" || nl == "relu"));
  return nl == "tanh" ? F::RnnActivation::Tanh : F::RnnActivation::Relu;
}

// A state of zeros where the case has no initial state (the composed steps need one).
nn::State or_zeros(const nn::State& s0, int size, const Variable& x, std::int64_t H) {
  if (!s0.empty()) return s0;
  nn::State z;
  for (int k = 0; k < size; ++k) z.emplace_back(zeros({x.size(0), H}, x.dtype()));
  return z;
}

std::vector<Route> routes(const json& c, DType dtype) {
  const auto kind = c.at("module").get<std::string>();
  const json& config = c.at("config");
  const auto I = config.at("input_size").get<std::int64_t>();
  const auto H = config.at("hidden_size").get<std::int64_t>();
  const nn::CellConfig cc{I, H, dtype, nullptr};
  std::vector<Route> out;

  if (kind == "RNN" || kind == "LSTM" || kind == "GRU") {
    const nn::RecurrentOptions o{.num_layers = config.at("num_layers").get<std::int64_t>(),
                                 .bidirectional = config.at("bidirectional").get<bool>(),
                                 .batch_first = config.at("batch_first").get<bool>(),
                                 .dtype = dtype};
    std::shared_ptr<nn::Recurrent> m;
    if (kind == "RNN")
      m = std::make_shared<nn::RNN>(I, H, o, config.at("nonlinearity").get<std::string>());
    else if (kind == "LSTM")
      m = std::make_shared<nn::LSTM>(I, H, o);
    else
      m = std::make_shared<nn::GRU>(I, H, o);
    out.push_back({"nn::" + kind, m, "", [m](const Variable& x, const nn::State& s0, auto& len) {
                     auto r = m->forward(x, s0, len);
                     return Forward{r.output, r.state};
                   }});
    return out;
  }

  if (kind == "EncoderGRU") {  // Cho et al.'s GRU: reset before the recurrent product
    auto cell = std::make_shared<nn::GRUCell>(cc, F::GruReset::Before);
    out.push_back({"GRUCell(Before).run (fused)", cell, "",
                   [cell](const Variable& x, const nn::State& s0, auto& len) {
                     auto r = cell->run(x, s0, len);
                     return Forward{r.output, r.state};
                   }});
    auto looped = std::make_shared<nn::GRUCell>(cc, F::GruReset::Before);
    out.push_back({"GRUCell(Before).step in Cell::run's loop", looped, "",
                   [looped](const Variable& x, const nn::State& s0, auto& len) {
                     auto r = looped->nn::Cell::run(x, s0, len);
                     return Forward{r.output, r.state};
                   }});
    auto m = std::make_shared<nn::Recurrent>("gru_cho", I, H, nn::RecurrentOptions{.dtype = dtype});
    out.push_back({"nn::Recurrent(gru_cho)", m, "_l0",
                   [m](const Variable& x, const nn::State& s0, auto& len) {
                     nn::State s;
                     for (const Variable& v : s0) s.push_back(v.unsqueeze(0));
                     auto r = m->forward(x, s, len);
                     return Forward{r.output, {r.state.at(0).select(0, 0)}};
                   }});
    return out;
  }

  // The cells, one step: step() and the composed equations.
  std::shared_ptr<nn::GatedCell> cell, bare;
  std::function<nn::State(const nn::GatedCell&, const Variable&, const nn::State&)> composed;
  int state_size = 1;
  if (kind == "RNNCell") {
    const auto act = activation(config);
    cell = std::make_shared<nn::RNNCell>(cc, act);
    bare = std::make_shared<nn::RNNCell>(cc, act);
    composed = [act](const nn::GatedCell& p, const Variable& x, const nn::State& s) {
      return nn::State{
          nn::composed::rnn_step(x, s[0], p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh, act)};
    };
  } else if (kind == "LSTMCell") {
    state_size = 2;
    cell = std::make_shared<nn::LSTMCell>(cc);
    bare = std::make_shared<nn::LSTMCell>(cc);
    composed = [](const nn::GatedCell& p, const Variable& x, const nn::State& s) {
      return nn::composed::lstm_step(x, s[0], s[1], p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh);
    };
  } else {
    REQUIRE_MESSAGE(kind == "GRUCell", "no seqgrad route for fixture module '" << kind << "'");
    cell = std::make_shared<nn::GRUCell>(cc, F::GruReset::After);
    bare = std::make_shared<nn::GRUCell>(cc, F::GruReset::After);
    composed = [](const nn::GatedCell& p, const Variable& x, const nn::State& s) {
      return nn::State{nn::composed::gru_step(x, s[0], p.weight_ih, p.weight_hh, p.bias_ih,
                                              p.bias_hh, F::GruReset::After)};
    };
  }
  out.push_back({kind + ".step", cell, "", [cell](const Variable& x, const nn::State& s0, auto&) {
                   return Forward{Variable(), cell->step(x, s0)};
                 }});
  out.push_back({"composed " + kind, bare, "",
                 [bare, composed, state_size, H](const Variable& x, const nn::State& s0, auto&) {
                   return Forward{Variable(), composed(*bare, x, or_zeros(s0, state_size, x, H))};
                 }});
  return out;
}

// Checks one route against the case's reference results `ref` ("float32" or "float64").
void check_route(const json& c, Route& route, DType dtype, const json& ref, double rtol,
                 double atol) {
  INFO("seqgrad route: ", route.label);
  std::map<std::string, Tensor> params;
  for (const auto& [name, t] : c.at("params").items())
    params.emplace(name + route.suffix, fixture_tensor(t, dtype));
  route.module->load_state_dict(params);  // strict: the names must match PyTorch's exactly

  const Variable x(fixture_tensor(c.at("input"), dtype), /*requires_grad=*/true);
  nn::State s0;
  for (const json& t : c.at("initial_state")) s0.emplace_back(fixture_tensor(t, dtype), true);
  const auto lengths = c.contains("lengths") ? c["lengths"].get<std::vector<std::int64_t>>()
                                             : std::vector<int64_t>{};

  const Forward f = route.run(x, s0, lengths);
  Variable loss;
  if (ref.contains("output")) {
    INFO("output");
    expect_close(f.output.value(), testing::fixture_tensor(ref["output"]), rtol, atol);
    loss = weighted_sum(f.output, fixture_tensor(c.at("out_weight"), dtype));
  } else {
    CHECK_FALSE(f.output.defined());
  }
  REQUIRE(f.state.size() == ref.at("state").size());
  REQUIRE(f.state.size() == c.at("state_weight").size());
  for (std::size_t k = 0; k < f.state.size(); ++k) {
    INFO("final state ", k);
    expect_close(f.state[k].value(), testing::fixture_tensor(ref["state"][k]), rtol, atol);
    const Variable term = weighted_sum(f.state[k], fixture_tensor(c["state_weight"][k], dtype));
    loss = loss.defined() ? loss + term : term;
  }
  loss.backward();

  const json& grads = ref.at("grads");
  auto grad_of = [](const Variable& v) {
    return v.grad().defined() ? v.grad() : zeros_like(v.value());
  };
  const auto named = route.module->named_parameters();
  REQUIRE(named.size() == grads.at("params").size());
  for (const auto& [name, p] : named) {
    INFO("gradient of parameter ", name);
    REQUIRE(name.size() >= route.suffix.size());
    const std::string torch_name = name.substr(0, name.size() - route.suffix.size());
    REQUIRE(grads["params"].contains(torch_name));
    expect_close(grad_of(p), testing::fixture_tensor(grads["params"][torch_name]), rtol, atol);
  }
  {
    INFO("gradient of the input");
    expect_close(grad_of(x), testing::fixture_tensor(grads.at("input")), rtol, atol);
  }
  REQUIRE(s0.size() == grads.at("state").size());
  for (std::size_t k = 0; k < s0.size(); ++k) {
    INFO("gradient of initial state ", k);
    expect_close(grad_of(s0[k]), testing::fixture_tensor(grads["state"][k]), rtol, atol);
  }
}

struct Coverage {
  std::size_t cases = 0, routes = 0;
  std::map<std::string, int> per_module;
};

Coverage check_all_cases(DType dtype, const char* key, double rtol, double atol) {
  Coverage cov;
  for (const json& c : rnn_fixture().at("cases")) {
    INFO("fixture case: ", c.at("name").get<std::string>(), " (", key, ")");
    for (Route& route : routes(c, dtype)) {
      check_route(c, route, dtype, c.at(key), rtol, atol);
      ++cov.routes;
    }
    ++cov.cases;
    ++cov.per_module[c["module"].get<std::string>()];
  }
  return cov;
}

void check_coverage(const Coverage& cov) {
  // Every case in the file was run, and no kind went missing from a regenerated file.
  CHECK(cov.cases == rnn_fixture()["cases"].size());
  const std::map<std::string, int> expected = {{"RNN", 16},      {"LSTM", 8},     {"GRU", 8},
                                               {"RNNCell", 4},   {"LSTMCell", 2}, {"GRUCell", 2},
                                               {"EncoderGRU", 3}};
  auto show = [](const std::map<std::string, int>& m) {
    std::string out;
    for (const auto& [kind, n] : m) out += fmt::format("{}: {}, ", kind, n);
    return out;
  };
  CHECK_MESSAGE(cov.per_module == expected, "cases per module: ", show(cov.per_module), "expected ",
                show(expected));
  // Module cases: one route; cells: step() and composed; EncoderGRU: three.
  CHECK(cov.routes == 32 + 2 * 8 + 3 * 3);
}

}  // namespace

TEST_CASE("rnn fixtures: recurrent modules and cells match PyTorch 1.13 in float32 to 1e-5") {
  check_coverage(check_all_cases(kFloat32, "float32", 1e-5, 1e-6));
}

TEST_CASE("rnn fixtures: recurrent modules and cells match PyTorch 1.13 in float64 to 1e-10") {
  check_coverage(check_all_cases(kFloat64, "float64", 1e-10, 1e-12));
}
