// Optimiser behaviour beyond the numbers: skipped parameters, zero_grad, version counters, float32,
// lr changes, construction errors, and a small model trained end to end.
#include <cmath>
#include <string>

#include "optim/all.h"
#include "optim_fixture.h"

using namespace seqgrad;
using namespace seqgrad::testing;

TEST_CASE("optimizer: parameters without a gradient are skipped, state and version included") {
  const auto params = fixture_params();
  optim::Adam opt(params, {.lr = 0.1});
  params[0].set_grad(full({2, 3}, 1.0, kFloat64));
  const auto before1 = values(params[1].value());
  const auto v0 = params[0].value().version(), v1 = params[1].value().version();
  opt.step();
  CHECK(values(params[1].value()) == before1);
  CHECK(params[1].value().version() == v1);
  CHECK(params[0].value().version() > v0);  // updated in place: pending backwards notice
  const auto state = opt.state_dict();
  CHECK(state.count("0.exp_avg"));
  CHECK_FALSE(state.count("1.exp_avg"));
  CHECK_FALSE(state.count("1.step"));
  CHECK(opt.steps() == 1);
  // With no gradients at all step() changes nothing but its own count.
  opt.zero_grad();
  const auto p0 = values(params[0].value());
  opt.step();
  CHECK(values(params[0].value()) == p0);
  CHECK(opt.steps() == 2);
  CHECK(opt.state_dict().at("0.step").item() == 1);
}

TEST_CASE("optimizer: zero_grad leaves the gradients undefined") {
  const auto params = fixture_params();
  optim::SGD opt(params, {.lr = 0.1});
  set_fixture_grads(params, "default", 0);
  opt.zero_grad();
  for (const Variable& p : params) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("optimizer: set_lr takes effect on the next step and is validated") {
  const auto params = fixture_params();
  optim::SGD opt(params, {.lr = 0.1});
  opt.set_lr(0.5);
  CHECK(opt.lr() == 0.5);
  const auto before = values(params[1].value());
  params[1].set_grad(full({4}, 2.0, kFloat64));
  opt.step();
  const auto after = values(params[1].value());
  for (std::size_t i = 0; i < after.size(); ++i) CHECK(after[i] == before[i] - 0.5 * 2.0);
  CHECK_THROWS_WITH_AS(opt.set_lr(-1.0), doctest::Contains("lr -1"), Error);
  CHECK(opt.lr() == 0.5);
}

TEST_CASE("optimizer: float32 parameters follow the float64 result") {
  for (const char* type : {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad"}) {
    INFO(type);
    nlohmann::json kw = {{"lr", 0.01}, {"weight_decay", 0.1}};
    if (std::string(type) == "SGD") kw["momentum"] = 0.9;
    if (std::string(type) == "RMSprop") kw["centered"] = true;
    const auto p64 = fixture_params();
    std::vector<Variable> p32;
    for (const Variable& p : p64) p32.emplace_back(p.value().to(kFloat32), true);
    auto o64 = make_optimizer(type, kw, p64);
    auto o32 = make_optimizer(type, kw, p32);
    for (std::size_t k = 0; k < fixture_steps("default"); ++k) {
      set_fixture_grads(p64, "default", k);
      for (std::size_t i = 0; i < p32.size(); ++i) p32[i].set_grad(p64[i].grad().to(kFloat32));
      o64->step();
      o32->step();
    }
    for (std::size_t i = 0; i < p32.size(); ++i)
      expect_close(values(p32[i].value()), values(p64[i].value()), 1e-5);
    CHECK(o32->state_dict().at("0.step").item() == 5);
  }
}

TEST_CASE("optimizer: invalid hyper-parameters are rejected with their name and value") {
  const auto params = fixture_params();
  using namespace optim;
  auto rejects = [&](auto make, const char* text) {
    CHECK_THROWS_WITH_AS(make(), doctest::Contains(text), Error);
  };
  rejects([&] { SGD(params, {}); }, "SGD: lr is required");
  rejects([&] { SGD(params, {.lr = -0.1}); }, "SGD: invalid lr -0.1");
  rejects([&] { SGD(params, {.lr = 0.1, .momentum = -0.5}); }, "invalid momentum -0.5");
  rejects([&] { SGD(params, {.lr = 0.1, .weight_decay = -1}); }, "invalid weight_decay -1");
  rejects([&] { SGD(params, {.lr = 0.1, .nesterov = true}); }, "nesterov requires momentum > 0");
  rejects([&] { SGD(params, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
          "dampening 0.1");
  rejects([&] { Adam(params, {.lr = -1e-3}); }, "Adam: invalid lr -0.001");
  rejects([&] { Adam(params, {.betas = {1.0, 0.999}}); }, "invalid beta1 (betas.first) 1");
  rejects([&] { Adam(params, {.betas = {0.9, -0.1}}); }, "invalid beta2 (betas.second) -0.1");
  rejects([&] { Adam(params, {.eps = -1e-8}); }, "invalid eps -1e-08");
  rejects([&] { Adam(params, {.lr = std::nan("")}); }, "invalid lr nan");
  rejects([&] { AdamW(params, {.weight_decay = -0.01}); }, "AdamW: invalid weight_decay -0.01");
  rejects([&] { RMSprop(params, {.alpha = -0.5}); }, "RMSprop: invalid alpha -0.5");
  rejects([&] { RMSprop(params, {.momentum = -1}); }, "invalid momentum -1");
  rejects([&] { Adagrad(params, {.lr_decay = -1}); }, "Adagrad: invalid lr_decay -1");
  rejects([&] { Adagrad(params, {.initial_accumulator_value = -1}); },
          "invalid initial_accumulator_value -1");
  rejects([&] { Adagrad(params, {.eps = -1}); }, "invalid eps -1");
}

TEST_CASE("optimizer: parameters must be distinct floating leaves that require grad") {
  using namespace optim;
  const auto params = fixture_params();
  CHECK_THROWS_WITH_AS(Adam({params[0], params[1], params[0]}),
                       doctest::Contains("parameter 2 appears more than once"), Error);
  CHECK_THROWS_WITH_AS(Adam({Variable(zeros({2}, kFloat64))}),
                       doctest::Contains("must be a leaf that requires grad"), Error);
  CHECK_THROWS_WITH_AS(Adam({Variable(zeros({2}, kInt64))}), doctest::Contains("int64"), Error);
  CHECK_THROWS_WITH_AS(Adam({params[0] * 2.0}), doctest::Contains("parameter 0"), Error);
  CHECK_THROWS_WITH_AS(Adam({Variable()}), doctest::Contains("undefined"), Error);
  const Variable strided(zeros({3, 2}, kFloat64).t(), true);
  CHECK_THROWS_WITH_AS(Adam({strided}), doctest::Contains("not contiguous"), Error);
}

TEST_CASE("optimizer: Adam trains a small linear regression") {
  // y = 2 x0 - 3 x1 + 1, fitted by full-batch Adam from a seeded start.
  Generator gen(7);
  nn::Linear model(2, 1, true, kFloat64, &gen);
  const Tensor x = randn({64, 2}, kFloat64, &gen);
  const Tensor w = tensor({2.0, -3.0}, {2, 1}, kFloat64);
  const Tensor y = add(matmul(x, w), 1.0);
  optim::Adam opt(model.parameters(), {.lr = 0.05});
  double first = 0.0, last = 0.0;
  for (int it = 0; it < 300; ++it) {
    opt.zero_grad();
    const Variable loss = nn::functional::mse_loss(model(Variable(x)), Variable(y));
    loss.backward();
    opt.step();
    (it == 0 ? first : last) = loss.item();
  }
  CHECK(last < 1e-4 * first);
  expect_close(values(model.weight.value()), {2.0, -3.0}, 1e-2);
  expect_close(values(model.bias.value()), {1.0}, 1e-2);
}
