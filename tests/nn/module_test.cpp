// Module: parameter registration and dotted names, parameters() order, train()/eval(),
// zero_grad(), state_dict()/load_state_dict() and its validation, summary().
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/nn_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;

TEST_CASE("module: Sequential registers PyTorch-style dotted names") {
  nn::Sequential net({std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::ReLU>(),
                      std::make_shared<nn::Linear>(4, 2)});
  const auto named = net.named_parameters();
  REQUIRE(named.size() == 4);
  CHECK(named[0].first == "0.weight");
  CHECK(named[1].first == "0.bias");
  CHECK(named[2].first == "2.weight");
  CHECK(named[3].first == "2.bias");
  CHECK(net.num_parameters() == 3 * 4 + 4 + 4 * 2 + 2);
}

// --- nested modules
// --------------------------------------------------------------------------------

namespace {

// A module with its own parameter, a leaf child and a Sequential child, registered in that order
// except that its own parameter comes last in the code: named_parameters() lists a module's own
// parameters before its children's whatever the order of registration, as PyTorch does.
class Block : public nn::Module {
 public:
  explicit Block(Generator* gen) : Module("Block") {
    fc = register_module("fc", std::make_shared<nn::Linear>(3, 4, true, kFloat64, gen));
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(Dims{4}, 1e-5, true, kFloat64));
    scale = register_parameter("scale", ones({4}, kFloat64));
  }
  Variable forward(const Variable& x) { return (*norm)((*fc)(x)) * scale; }
  std::shared_ptr<nn::Linear> fc;
  std::shared_ptr<nn::LayerNorm> norm;
  Variable scale;
};

class Net : public nn::Module {
 public:
  explicit Net(Generator* gen) : Module("Net") {
    encoder = register_module("encoder", std::make_shared<Block>(gen));
    head = register_module("head",
                           std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Layer>>{
                               std::make_shared<nn::Dropout>(0.5),
                               std::make_shared<nn::Linear>(4, 2, true, kFloat64, gen)}));
  }
  Variable forward(const Variable& x) { return (*head)(encoder->forward(x)); }
  std::shared_ptr<Block> encoder;
  std::shared_ptr<nn::Sequential> head;
};

// Tries to register duplicate and malformed names (register_* are protected).
class Misnamed : public nn::Module {
 public:
  Misnamed() : Module("Misnamed") { register_parameter("w", zeros({1})); }
  void add_parameter(const std::string& name) { register_parameter(name, zeros({1})); }
  void add_module(const std::string& name, std::shared_ptr<nn::Module> m) {
    register_module(name, std::move(m));
  }
};

std::vector<std::string> names_of(const nn::Module& m) {
  std::vector<std::string> names;
  for (const auto& [name, p] : m.named_parameters()) names.push_back(name);
  return names;
}

// Fresh values of every parameter (copies), to check that a failed load changed nothing.
std::map<std::string, Tensor> snapshot(const nn::Module& m) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : m.state_dict()) out.emplace(name, t.clone());
  return out;
}

void check_unchanged(const nn::Module& m, const std::map<std::string, Tensor>& before) {
  for (const auto& [name, t] : m.state_dict()) {
    INFO(name);
    CHECK(allclose(t, before.at(name), 0.0, 0.0));
  }
}

}  // namespace

TEST_CASE("module: dotted names for nested modules, own parameters first") {
  Generator gen(71);
  Net net(&gen);
  CHECK(names_of(net) == std::vector<std::string>{"encoder.scale", "encoder.fc.weight",
                                                  "encoder.fc.bias", "encoder.norm.weight",
                                                  "encoder.norm.bias", "head.1.weight",
                                                  "head.1.bias"});
  CHECK(net.num_parameters() == 4 + 12 + 4 + 4 + 4 + 8 + 2);
  // Children in registration order; parameters keep their short name for to_dot().
  const auto children = net.named_children();
  REQUIRE(children.size() == 2);
  CHECK(children[0].first == "encoder");
  CHECK(children[1].first == "head");
  CHECK(net.encoder->fc->weight.name() == "weight");
}

TEST_CASE("module: parameters() are the same variables, in the same order") {
  Generator gen(72);
  Net net(&gen);
  const auto params = net.parameters();
  const auto named = net.named_parameters();
  REQUIRE(params.size() == named.size());
  for (std::size_t i = 0; i < params.size(); ++i) CHECK(params[i].impl() == named[i].second.impl());
  CHECK(params[0].impl() == net.encoder->scale.impl());
  CHECK(params[1].impl() == net.encoder->fc->weight.impl());
  for (const Variable& p : params) {
    CHECK(p.requires_grad());
    CHECK(p.is_leaf());
  }
}

TEST_CASE("module: register_* reject duplicate, empty and dotted names") {
  Misnamed m;
  CHECK_THROWS_WITH_AS(m.add_parameter("w"), doctest::Contains("'w'"), Error);
  CHECK_THROWS_WITH_AS(m.add_parameter("a.b"), doctest::Contains("'a.b'"), Error);
  CHECK_THROWS_WITH_AS(m.add_parameter(""), doctest::Contains("Misnamed"), Error);
  m.add_module("child", std::make_shared<nn::ReLU>());
  CHECK_THROWS_WITH_AS(m.add_module("child", std::make_shared<nn::ReLU>()),
                       doctest::Contains("'child'"), Error);
  CHECK_THROWS_WITH_AS(m.add_module("x.y", std::make_shared<nn::ReLU>()),
                       doctest::Contains("'x.y'"), Error);
  CHECK_THROWS_WITH_AS(m.add_module("null", nullptr), doctest::Contains("null"), Error);
}

TEST_CASE("module: train() and eval() reach every descendant") {
  Generator gen(73);
  Net net(&gen);
  auto dropout = std::dynamic_pointer_cast<nn::Dropout>(net.head->layers()[0]);
  REQUIRE(dropout);
  CHECK(net.is_training());
  CHECK(dropout->is_training());
  net.eval();
  CHECK_FALSE(net.is_training());
  CHECK_FALSE(net.encoder->is_training());
  CHECK_FALSE(net.encoder->fc->is_training());
  CHECK_FALSE(net.head->is_training());
  CHECK_FALSE(dropout->is_training());
  // In eval mode Dropout is the identity.
  const Variable x(ones({50, 4}, kFloat64));
  CHECK((*dropout)(x).impl() == x.impl());
  net.train();
  CHECK(dropout->is_training());
  CHECK(net.encoder->norm->is_training());
  const Tensor y = (*dropout)(x).value();
  CHECK(sum(eq(y, 0.0).to(kFloat64)).item() > 0);  // 200 draws at p = 0.5 drop some
  net.train(false);
  CHECK_FALSE(dropout->is_training());
}

TEST_CASE("module: zero_grad drops every parameter's gradient") {
  Generator gen(74);
  Net net(&gen);
  net.eval();
  sum(net.forward(Variable(randn({5, 3}, kFloat64, &gen)))).backward();
  for (const auto& [name, p] : net.named_parameters()) {
    INFO(name);
    CHECK(p.grad().defined());
  }
  net.zero_grad();
  for (const auto& [name, p] : net.named_parameters()) {
    INFO(name);
    CHECK_FALSE(p.grad().defined());
  }
}

TEST_CASE("module: state_dict and load_state_dict round trip") {
  Generator gen(75);
  Net a(&gen), b(&gen);
  a.eval();
  b.eval();
  const Variable x(randn({3, 3}, kFloat64, &gen));
  REQUIRE_FALSE(allclose(a.forward(x).value(), b.forward(x).value()));

  const auto state = a.state_dict();
  CHECK(state.size() == 7);
  CHECK(state.count("encoder.fc.weight") == 1);
  CHECK(state.at("head.1.bias").shape() == Dims{2});
  // The state shares storage with the parameters (like PyTorch's state_dict()).
  CHECK(state.at("encoder.scale").storage() == a.encoder->scale.value().storage());

  b.load_state_dict(state);
  CHECK(allclose(a.forward(x).value(), b.forward(x).value(), 0.0, 0.0));
  // Loading copies: the two modules do not share parameters afterwards.
  CHECK(b.encoder->scale.value().storage() != a.encoder->scale.value().storage());
  {
    NoGradGuard no_grad;
    a.encoder->scale.fill_(3.0);
  }
  expect_values(b.encoder->scale.value(), {4}, {1, 1, 1, 1});
  // The loaded parameters are still the module's own leaves, requiring grad.
  CHECK(b.encoder->fc->weight.requires_grad());
  CHECK(b.encoder->fc->weight.is_leaf());
}

TEST_CASE("module: load_state_dict validates everything and changes nothing on error") {
  Generator gen(76);
  Net net(&gen), other(&gen);
  const auto before = snapshot(net);
  // A state whose entries all differ from the model, with one broken entry: the valid entries
  // (including those before it in name order) must not be copied.
  auto broken = [&](const std::string& name, Tensor replacement) {
    auto state = snapshot(other);
    if (replacement.defined())
      state[name] = replacement;
    else
      state.erase(name);
    return state;
  };
  SUBCASE("missing") {
    CHECK_THROWS_WITH_AS(net.load_state_dict(broken("head.1.weight", {})),
                         doctest::Contains("missing parameter 'head.1.weight'"), Error);
  }
  SUBCASE("unexpected") {
    auto state = snapshot(other);
    state["head.2.weight"] = zeros({2, 2}, kFloat64);
    CHECK_THROWS_WITH_AS(net.load_state_dict(state),
                         doctest::Contains("unexpected parameter 'head.2.weight'"), Error);
  }
  SUBCASE("unexpected and one missing: still reported") {
    auto state = broken("encoder.scale", {});
    state["encoder.scales"] = ones({4}, kFloat64);  // a typo: as many names as the model has
    CHECK_THROWS_WITH_AS(net.load_state_dict(state), doctest::Contains("'encoder.scale'"), Error);
  }
  SUBCASE("wrong shape") {
    const auto state = broken("head.1.weight", zeros({4, 2}, kFloat64));
    CHECK_THROWS_WITH_AS(net.load_state_dict(state), doctest::Contains("'head.1.weight'"), Error);
    CHECK_THROWS_WITH_AS(net.load_state_dict(state), doctest::Contains("[4, 2]"), Error);
    CHECK_THROWS_WITH_AS(net.load_state_dict(state), doctest::Contains("[2, 4]"), Error);
  }
  SUBCASE("wrong dtype") {
    const auto state = broken("head.1.bias", zeros({2}, kFloat32));
    CHECK_THROWS_WITH_AS(net.load_state_dict(state), doctest::Contains("'head.1.bias'"), Error);
    CHECK_THROWS_WITH_AS(net.load_state_dict(state), doctest::Contains("float32"), Error);
  }
  SUBCASE("undefined tensor") {
    auto state = snapshot(other);
    state["encoder.norm.bias"] = Tensor();
    CHECK_THROWS_WITH_AS(net.load_state_dict(state), doctest::Contains("'encoder.norm.bias'"),
                         Error);
  }
  SUBCASE("wrong shape is an error even when not strict") {
    const auto state = broken("encoder.fc.bias", zeros({5}, kFloat64));
    CHECK_THROWS_WITH_AS(net.load_state_dict(state, /*strict=*/false),
                         doctest::Contains("'encoder.fc.bias'"), Error);
  }
  check_unchanged(net, before);
}

TEST_CASE("module: load_state_dict with strict=false ignores missing and unexpected names") {
  Generator gen(77);
  Net net(&gen), other(&gen);
  const auto before = snapshot(net);
  auto state = snapshot(other);
  state.erase("head.1.weight");
  state["extra.weight"] = zeros({3}, kFloat64);
  CHECK_THROWS_AS(net.load_state_dict(state), Error);
  check_unchanged(net, before);
  net.load_state_dict(state, /*strict=*/false);
  // Everything present was loaded; the missing one kept its value.
  CHECK(allclose(net.encoder->fc->weight.value(), other.encoder->fc->weight.value(), 0.0, 0.0));
  CHECK(
      allclose(net.state_dict().at("head.1.bias"), other.state_dict().at("head.1.bias"), 0.0, 0.0));
  CHECK(allclose(net.state_dict().at("head.1.weight"), before.at("head.1.weight"), 0.0, 0.0));
}

TEST_CASE("module: summary names the layers, parameters and the total count") {
  Generator gen(78);
  Net net(&gen);
  const std::string s = net.summary();
  for (const char* part :
       {"Net", "(encoder): Block", "(fc): Linear", "in_features=3", "out_features=4",
        "(norm): LayerNorm", "(head): Sequential", "(0): Dropout", "p=0.5", "(1): Linear", "scale",
        "weight", "[4, 3]", "float64"}) {
    INFO(part);
    CHECK(s.find(part) != std::string::npos);
  }
  CHECK(s.find("Total parameters: 38") != std::string::npos);
  CHECK(net.num_parameters() == 38);
  nn::Conv2d conv(3, 8, 3, 2, 1);
  CHECK(conv.summary().find("Conv2d(3, 8, kernel_size=3, stride=2, padding=1)") !=
        std::string::npos);
  CHECK(conv.summary().find("Total parameters: 224") != std::string::npos);  // 8*3*3*3 + 8
  nn::Embedding emb(10, 4, 0);
  CHECK(emb.summary().find("Embedding(10, 4, padding_idx=0)") != std::string::npos);
}

TEST_CASE("module: Sequential summary with an input shape lists each layer's output shape") {
  Generator gen(79);
  nn::Sequential net({std::make_shared<nn::Conv2d>(1, 32, 3, 1, 1, 1, true, kFloat32, &gen),
                      std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
                      std::make_shared<nn::Flatten>(), std::make_shared<nn::Dropout>(0.5, &gen),
                      std::make_shared<nn::Linear>(32 * 14 * 14, 10, true, kFloat32, &gen)});
  const std::string s = net.summary(Dims{1, 1, 28, 28});
  INFO(s);
  for (const char* part :
       {"[1, 1, 28, 28]", "Conv2d(1, 32, kernel_size=3, stride=1, padding=1)", "[1, 32, 28, 28]",
        "ReLU()", "MaxPool2d(kernel_size=2, stride=2, padding=0)", "[1, 32, 14, 14]", "Flatten()",
        "[1, 6272]", "Dropout(p=0.5)", "[1, 10]", "Output shape", "Params"}) {
    INFO(part);
    CHECK(s.find(part) != std::string::npos);
  }
  // Parameter counts per layer and in total: 32*9 + 32 = 320, 6272*10 + 10 = 62730.
  CHECK(s.find(" 320\n") != std::string::npos);
  CHECK(s.find(" 62730\n") != std::string::npos);
  CHECK(s.find("Total parameters: 63050") != std::string::npos);
  CHECK(net.num_parameters() == 63050);
  // Layers appear in order, one line each, with their index first.
  const auto conv = s.find("Conv2d("), pool = s.find("MaxPool2d("), linear = s.find("Linear(");
  REQUIRE(conv != std::string::npos);
  CHECK(conv < pool);
  CHECK(pool < linear);
  CHECK(s.find("0  Conv2d(") != std::string::npos);
  CHECK(s.find("5  Linear(") != std::string::npos);
  // The batch size comes from the input shape.
  CHECK(net.summary(Dims{4, 1, 28, 28}).find("[4, 6272]") != std::string::npos);
  // The parameter-tree summary is still there.
  CHECK(net.summary().find("(0): Conv2d") != std::string::npos);
}

TEST_CASE("module: Sequential summary records no graph, and keeps train and eval modes") {
  Generator gen(80);
  auto dropout = std::make_shared<nn::Dropout>(0.5, &gen);
  auto inner = std::make_shared<nn::Sequential>(
      std::vector<std::shared_ptr<nn::Layer>>{std::make_shared<nn::Dropout>(0.5, &gen)});
  nn::Sequential net({std::make_shared<nn::Linear>(3, 4, true, kFloat64, &gen), dropout, inner});
  inner->layers()[0]->eval();  // a mixed tree: restored exactly as it was
  Generator probe = gen;
  const std::string s = net.summary(Dims{2, 3});
  CHECK(s.find("[2, 4]") != std::string::npos);
  CHECK(s.find("float64") != std::string::npos);  // the zero input takes the parameters' dtype
  CHECK(dropout->is_training());
  CHECK(inner->is_training());
  CHECK_FALSE(inner->layers()[0]->is_training());
  CHECK(net.is_training());
  // Dropout ran in eval mode: the generator drew nothing.
  CHECK(gen.next_u64() == probe.next_u64());
  for (const Variable& p : net.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("module: Sequential summary names the layer that rejects its input") {
  nn::Sequential net({std::make_shared<nn::Flatten>(), std::make_shared<nn::ReLU>(),
                      std::make_shared<nn::Linear>(10, 3)});
  // [2, 3, 4] flattens to [2, 12], which Linear(10, 3) at index 2 rejects.
  CHECK_THROWS_WITH_AS(net.summary(Dims{2, 3, 4}), doctest::Contains("layer 2"), Error);
  CHECK_THROWS_WITH_AS(net.summary(Dims{2, 3, 4}), doctest::Contains("Linear"), Error);
  CHECK_THROWS_WITH_AS(net.summary(Dims{2, 3, 4}), doctest::Contains("[2, 12]"), Error);
  CHECK(net.summary(Dims{2, 5, 2}).find("[2, 3]") != std::string::npos);
  nn::Sequential conv({std::make_shared<nn::Conv2d>(1, 2, 3)});
  CHECK_THROWS_WITH_AS(conv.summary(Dims{1, 28, 28}), doctest::Contains("layer 0"), Error);
}
