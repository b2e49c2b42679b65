// The Trainer: what one step does (checked against updates computed by hand), every stop
// condition with its reason, the non-finite policy, best/last checkpoints, options saved and
// checked on resume, and a run interrupted and resumed that ends byte-identical to an
// uninterrupted one.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>

#include "nn/all.h"
#include "optim/all.h"
#include "temp_file.h"
#include "train/all.h"

using namespace seqgrad;
using namespace seqgrad::train;

namespace {

// y = w x + b on 2 inputs, with dropout on the input drawn from the trainer's generator: a run
// that does not restore the generator exactly gives other parameters.
class Regression : public nn::Module {
 public:
  explicit Regression(std::uint64_t seed) : Module("Regression") {
    Generator gen(seed);
    linear = register_module("linear", std::make_shared<nn::Linear>(2, 1, true, kFloat64, &gen));
  }
  Variable forward(const Variable& x, Generator* gen) {
    return (*linear)(nn::functional::dropout(x, 0.25, is_training(), gen));
  }
  std::shared_ptr<nn::Linear> linear;
};

// A batch of 8 points of y = 3 x0 - 2 x1 + 1 drawn from gen; the mean squared error.
BatchLoss regression_loss(Regression& model, Generator& gen) {
  const Tensor x = randn({8, 2}, kFloat64, &gen);
  const Tensor y = matmul(x, tensor({3, -2}, {2, 1}, kFloat64)) + 1.0;
  return {mean(pow(model.forward(Variable(x), &gen) - Variable(y), 2.0)), 8};
}

// Evaluations that return the given losses in turn (score = -loss).
Trainer::Evaluate scripted(std::vector<double> losses) {
  auto next = std::make_shared<std::size_t>(0);
  return [losses, next] {
    const double loss = losses[std::min(*next, losses.size() - 1)];
    ++*next;
    return Evaluation{.loss = loss};
  };
}

}  // namespace

TEST_CASE("Trainer: one step is zero_grad, backward, clip, update (checked by hand)") {
  // loss = (w - 3)^2 with w = 0: gradient -6; clipped to norm 2 it is -2 (scale 2 / (6 + 1e-6));
  // SGD with lr 0.5 then moves w to 0.5 * 2 = 1 (up to the clip's 1e-6).
  nn::Linear layer(1, 1, false, kFloat64);
  layer.weight.value().fill_(0.0);
  optim::SGD sgd(layer.parameters(), {.lr = 0.5});
  Generator gen(1);
  Trainer trainer(layer, sgd, gen, {.clip = 2.0});
  const StepReport r = trainer.step({sum(pow(layer.weight - 3.0, 2.0)), 1});
  CHECK(r.step == 1);
  CHECK(r.loss == doctest::Approx(9.0));
  CHECK(r.grad_norm == doctest::Approx(6.0));  // before clipping
  CHECK(layer.weight.value().item() == doctest::Approx(0.5 * 2.0 * 6.0 / (6.0 + 1e-6)));
  CHECK(trainer.progress().step == 1);
  CHECK(trainer.progress().items == 1);
  // A second step accumulates nothing from the first: zero_grad ran (gradient at w ~ 1: -4,
  // clipped to -2 again).
  trainer.step({sum(pow(layer.weight - 3.0, 2.0)), 1});
  CHECK(layer.weight.value().item() == doctest::Approx(2.0).epsilon(1e-5));
}

TEST_CASE("Trainer: the schedule sets the rate from the step before each update") {
  nn::Linear layer(1, 1, false, kFloat64);
  optim::SGD sgd(layer.parameters(), {.lr = 1.0});
  Generator gen(1);
  Trainer trainer(layer, sgd, gen);
  // StepLR(step_size 2, gamma 0.5): steps 0, 1 at 1.0, steps 2, 3 at 0.5.
  trainer.set_schedule(std::make_shared<optim::StepLR>(sgd, 2, 0.5));
  std::vector<double> rates;
  for (int i = 0; i < 4; ++i) rates.push_back(trainer.step({sum(layer.weight) * 0.0, 1}).lr);
  CHECK(rates == std::vector<double>{1.0, 1.0, 0.5, 0.5});
}

TEST_CASE("Trainer: a non-finite loss stops with the step named, or is skipped") {
  nn::Linear layer(1, 1, false, kFloat64);
  layer.weight.value().fill_(1.0);
  optim::SGD sgd(layer.parameters(), {.lr = 0.1});
  Generator gen(1);
  const auto nan_loss = [&] { return BatchLoss{sum(layer.weight) * std::nan(""), 1}; };
  {
    Trainer trainer(layer, sgd, gen);
    trainer.step({sum(layer.weight) * 0.0, 1});
    CHECK_THROWS_WITH_AS(trainer.step(nan_loss()),
                         doctest::Contains("step 2: non-finite loss (nan); stopped"), Error);
  }
  Trainer trainer(layer, sgd, gen, {.nonfinite = NonFinite::Skip});
  const StepReport r = trainer.step(nan_loss());
  CHECK(r.skipped);
  CHECK(layer.weight.value().item() == 1.0);  // no update
  CHECK(trainer.progress().items == 0);
}

TEST_CASE("Trainer: each stop condition ends training with its reason") {
  Regression model(3);
  optim::Adam adam(model.parameters(), {.lr = 1e-2});
  Generator gen(4);
  auto loss = [&](std::int64_t, Generator& g) { return regression_loss(model, g); };
  SUBCASE("steps") {
    Trainer t(model, adam, gen, {.max_steps = 7, .eval_every = 3});
    std::vector<std::int64_t> evaluated_at;
    const TrainResult r = t.fit(loss, [&] {
      evaluated_at.push_back(t.progress().step);
      return Evaluation{.loss = 1.0};
    });
    CHECK(r.reason == StopReason::Steps);
    CHECK(r.progress.step == 7);
    CHECK(evaluated_at == std::vector<std::int64_t>{3, 6, 7});
  }
  SUBCASE("epochs, evaluated after each") {
    Trainer t(model, adam, gen, {.max_epochs = 2, .steps_per_epoch = 5});
    std::vector<std::int64_t> evaluated_at;
    const TrainResult r = t.fit(loss, [&] {
      evaluated_at.push_back(t.progress().step);
      return Evaluation{.loss = 1.0};
    });
    CHECK(r.reason == StopReason::Epochs);
    CHECK(evaluated_at == std::vector<std::int64_t>{5, 10});
    CHECK(t.epoch() == 2);
  }
  SUBCASE("patience: evaluations without a lower loss") {
    // Losses 1.0, 0.9 (best), 0.95, 0.91, 0.92: three evaluations without beating 0.9.
    Trainer t(model, adam, gen, {.max_steps = 1000, .eval_every = 2, .patience = 3});
    const TrainResult r = t.fit(loss, scripted({1.0, 0.9, 0.95, 0.91, 0.92, 0.5}));
    CHECK(r.reason == StopReason::EarlyStopping);
    CHECK(r.progress.step == 10);
    CHECK(r.progress.best_loss == 0.9);
  }
  SUBCASE("target score") {
    Trainer t(model, adam, gen, {.max_steps = 1000, .eval_every = 2, .stop_at = 0.75});
    auto score = std::make_shared<double>(0.0);
    const TrainResult r = t.fit(loss, [score] {
      *score += 0.25;
      return Evaluation{.loss = 1.0, .score = *score};
    });
    CHECK(r.reason == StopReason::TargetReached);
    CHECK(r.progress.step == 6);
  }
  SUBCASE("time limit, training and evaluation together") {
    // Each evaluation sleeps 30 ms; with a 50 ms limit the second one cannot fit.
    Trainer t(model, adam, gen, {.max_steps = 1000000, .eval_every = 1, .time_limit = 0.05});
    int evaluations = 0;
    const TrainResult r = t.fit(loss, [&] {
      ++evaluations;
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
      while (std::chrono::steady_clock::now() < until) {
      }
      return Evaluation{.loss = 1.0};
    });
    CHECK(r.reason == StopReason::TimeLimit);
    CHECK(evaluations <= 2);
    CHECK(r.progress.wall_seconds >= 0.03);
    CHECK(r.progress.wall_seconds < 0.05 + 0.035);  // at most one evaluation past the limit
  }
  SUBCASE("nothing would stop") {
    Trainer t(model, adam, gen);
    CHECK_THROWS_WITH_AS(t.fit(loss), doctest::Contains("nothing would stop training"), Error);
  }
}

TEST_CASE("Trainer: best.safetensors follows the score, last.safetensors every evaluation") {
  Regression model(3);
  optim::Adam adam(model.parameters(), {.lr = 1e-2});
  Generator gen(4);
  const auto out = seqgrad::testing::fresh_folder("trainer_best");
  Trainer t(model, adam, gen,
            {.max_steps = 8, .eval_every = 2, .out = out, .checkpoint_metadata = {{"k", "v"}}});
  // Scores 0.2, 0.5 (best at step 4), 0.4, 0.3.
  auto scores = std::make_shared<std::vector<double>>(std::vector<double>{0.2, 0.5, 0.4, 0.3});
  t.fit([&](std::int64_t, Generator& g) { return regression_loss(model, g); },
        [scores] {
          const double s = scores->front();
          scores->erase(scores->begin());
          return Evaluation{.loss = 1.0 - s, .score = s};
        });
  const auto best = nn::load_safetensors((out / "best.safetensors").string());
  const auto last = nn::load_safetensors((out / "last.safetensors").string());
  CHECK(best.metadata.at("step") == "4");
  CHECK(last.metadata.at("step") == "8");
  CHECK(best.metadata.at("k") == "v");
  CHECK(std::filesystem::exists(out / "options.json"));
}

TEST_CASE("Trainer: a run interrupted and resumed ends byte-identical to one that was not") {
  // 12 steps straight, against 4 steps and then a resume to 12 with a model and an optimiser
  // built afresh (other initial parameters, empty Adam state, the generator at another state):
  // everything must come from the state file.
  auto run = [](const std::filesystem::path& out, std::int64_t steps, bool resume,
                std::uint64_t init_seed) {
    Regression model(init_seed);
    optim::Adam adam(model.parameters(), {.lr = 1e-2});
    Generator gen(resume ? 999 : 5);
    Trainer t(model, adam, gen,
              {.max_steps = steps,
               .eval_every = 4,
               .out = out,
               .resume = resume,
               .config = {{"lr", 1e-2}, {"steps", steps}},
               .may_change_on_resume = {"steps"}});
    t.set_schedule(std::make_shared<optim::CosineAnnealingLR>(adam, 12));
    t.add_callback(std::make_shared<MetricsLog>(out, "points"));
    t.fit([&](std::int64_t, Generator& g) { return regression_loss(model, g); },
          [&] {
            NoGradGuard no_grad;
            Generator dev(7);  // a fixed dev set, drawn apart from the training generator
            return Evaluation{.loss = regression_loss(model, dev).loss.item()};
          });
  };
  const auto straight = seqgrad::testing::fresh_folder("trainer_straight"),
             resumed = seqgrad::testing::fresh_folder("trainer_resumed");
  run(straight, 12, false, 3);
  run(resumed, 4, false, 3);
  run(resumed, 12, true, 42);
  CHECK(seqgrad::testing::file_bytes(straight / "last.safetensors") ==
        seqgrad::testing::file_bytes(resumed / "last.safetensors"));
  CHECK(seqgrad::testing::file_bytes(straight / "best.safetensors") ==
        seqgrad::testing::file_bytes(resumed / "best.safetensors"));
  // The optimiser state and the generator too: the state files differ only in timing fields.
  const auto a = read_training_state(straight / "last.state.safetensors");
  const auto b = read_training_state(resumed / "last.state.safetensors");
  CHECK(a.rng == b.rng);
  CHECK(a.progress.step == 12);
  CHECK(b.progress.step == 12);
  REQUIRE(a.file.tensors.size() == b.file.tensors.size());
  for (const auto& [name, t] : a.file.tensors)
    CHECK_MESSAGE(t.to(kFloat64).contiguous().to_vector<double>() ==
                      b.file.tensors.at(name).to(kFloat64).contiguous().to_vector<double>(),
                  name);
  // metrics.csv: one header and the rows of steps 4, 8, 12, in both.
  auto rows = [](const std::filesystem::path& f) {
    std::ifstream in(f);
    std::vector<std::string> steps;
    for (std::string line; std::getline(in, line);) steps.push_back(line.substr(0, line.find(',')));
    return steps;
  };
  CHECK(rows(straight / "metrics.csv") == std::vector<std::string>{"step", "4", "8", "12"});
  CHECK(rows(resumed / "metrics.csv") == rows(straight / "metrics.csv"));
}

TEST_CASE("Trainer: a folder that holds a run is refused; resume checks the options") {
  Regression model(3);
  optim::Adam adam(model.parameters(), {.lr = 1e-2});
  Generator gen(4);
  const auto out = seqgrad::testing::fresh_folder("trainer_refuse");
  auto loss = [&](std::int64_t, Generator& g) { return regression_loss(model, g); };
  Trainer(model, adam, gen, {.max_steps = 2, .out = out, .config = {{"lr", 0.01}}}).fit(loss);
  CHECK_THROWS_WITH_AS(Trainer(model, adam, gen, {.max_steps = 4, .out = out}).fit(loss),
                       doctest::Contains("already holds a run: continue it with --resume"), Error);
  CHECK_THROWS_WITH_AS(
      Trainer(model, adam, gen,
              {.max_steps = 4, .out = out, .resume = true, .config = {{"lr", 0.1}}})
          .fit(loss),
      doctest::Contains("lr was 0.01, now 0.1"), Error);
  // An option the caller allows to change is accepted.
  const TrainResult r = Trainer(model, adam, gen,
                                {.max_steps = 4,
                                 .out = out,
                                 .resume = true,
                                 .config = {{"lr", 0.01}, {"steps", 4}},
                                 .may_change_on_resume = {"steps"}})
                            .fit(loss);
  CHECK(r.progress.step == 4);
  CHECK_THROWS_WITH_AS(
      Trainer(model, adam, gen,
              {.max_steps = 4, .out = seqgrad::testing::fresh_folder("none"), .resume = true})
          .fit(loss),
      doctest::Contains("no training state"), Error);
}
