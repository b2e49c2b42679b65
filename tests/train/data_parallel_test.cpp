// Data-parallel training (Trainer::fit_data_parallel): one step over shards equals the update
// computed by hand for the whole batch, the replicas read the model's weights, a fixed shard
// count gives identical runs and an interrupted run resumes exactly, and errors name the shard
// or the parameter.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <thread>

#include "nn/all.h"
#include "optim/all.h"
#include "temp_file.h"
#include "train/all.h"

using namespace seqgrad;
using namespace seqgrad::train;

namespace {

// Five points (x0, x1) -> y, and the model's starting weights: w = (0.5, -1), b = 0.25.
const std::vector<double> kX = {1, 2, -1, 0.5, 3, -2, 0, 1, 2, 2};
const std::vector<double> kY = {1, -3, 4, 0.5, 2};

void set_start(nn::Linear& layer) {
  layer.weight.value().copy_(tensor({0.5, -1}, {1, 2}, kFloat64));
  layer.bias.value().copy_(tensor({0.25}, {1}, kFloat64));
}

// The mean squared error of the given points (indices into kX, kY), with its item count.
BatchLoss squared_error(nn::Module& model, const std::vector<std::size_t>& points) {
  auto& layer = static_cast<nn::Linear&>(model);
  std::vector<double> x, y;
  for (const std::size_t i : points) {
    x.insert(x.end(), {kX[2 * i], kX[2 * i + 1]});
    y.push_back(kY[i]);
  }
  const auto n = static_cast<std::int64_t>(points.size());
  return {
      mean(pow(layer(Variable(from_vector(x, {n, 2}))) - Variable(from_vector(y, {n, 1})), 2.0)),
      n};
}

// This shard's points of the five: 0, 2, 4 and 1, 3 for two shards (Shard::deal).
BatchLoss shard_error(const Shard& s) {
  return squared_error(s.model, s.deal(std::vector<std::size_t>{0, 1, 2, 3, 4}));
}

}  // namespace

TEST_CASE(
    "data-parallel step: shards of 3 and 2 (or 2, 2 and 1) items give the whole batch's "
    "update, by hand") {
  // The whole batch's gradient by hand: residual r_i = w.x_i + b - y_i, dL/dw = 2/5 sum r_i x_i,
  // dL/db = 2/5 sum r_i; SGD with lr 1 subtracts it.
  double gw0 = 0, gw1 = 0, gb = 0;
  for (int i = 0; i < 5; ++i) {
    const double r = 0.5 * kX[2 * i] - 1.0 * kX[2 * i + 1] + 0.25 - kY[i];
    gw0 += 2.0 / 5 * r * kX[2 * i];
    gw1 += 2.0 / 5 * r * kX[2 * i + 1];
    gb += 2.0 / 5 * r;
  }
  const int threads_before = get_num_threads();
  set_num_threads(2);
  for (const int shards : {2, 3}) {
    CAPTURE(shards);
    nn::Linear model(2, 1, true, kFloat64);
    set_start(model);
    optim::SGD sgd(model.parameters(), {.lr = 1.0});
    Generator gen(1);
    Trainer trainer(model, sgd, gen);
    std::vector<std::shared_ptr<nn::Linear>> others;  // what the trainer made, to look at
    trainer.set_replicas(shards, [&](Generator*) {
      others.push_back(std::make_shared<nn::Linear>(2, 1, true, kFloat64));
      return others.back();
    });
    REQUIRE(others.size() == static_cast<std::size_t>(shards - 1));
    std::vector<std::thread::id> threads(static_cast<std::size_t>(shards));
    std::vector<int> loop_threads(static_cast<std::size_t>(shards));
    const StepReport r = trainer.step_data_parallel([&](const Shard& s) {
      threads[static_cast<std::size_t>(s.index)] = std::this_thread::get_id();
      loop_threads[static_cast<std::size_t>(s.index)] = intra_op_threads();
      return shard_error(s);
    });
    // Each shard's loops stayed on its thread.
    CHECK(loop_threads == std::vector<int>(static_cast<std::size_t>(shards), 1));
    CHECK(r.items == 5);
    CHECK(trainer.progress().items == 5);
    double loss = 0;
    for (int i = 0; i < 5; ++i) {
      const double res = 0.5 * kX[2 * i] - 1.0 * kX[2 * i + 1] + 0.25 - kY[i];
      loss += res * res / 5;
    }
    CHECK(r.loss == doctest::Approx(loss).epsilon(1e-12));
    CHECK(r.grad_norm == doctest::Approx(std::sqrt(gw0 * gw0 + gw1 * gw1 + gb * gb)));
    const auto w = model.weight.value().contiguous().to_vector<double>();
    CHECK(w[0] == doctest::Approx(0.5 - gw0).epsilon(1e-12));
    CHECK(w[1] == doctest::Approx(-1.0 - gw1).epsilon(1e-12));
    CHECK(model.bias.value().item() == doctest::Approx(0.25 - gb).epsilon(1e-12));
    // Shard 0 ran on the caller, the others each on a thread of their own.
    CHECK(threads[0] == std::this_thread::get_id());
    for (int k = 1; k < shards; ++k) CHECK(threads[static_cast<std::size_t>(k)] != threads[0]);
    // The replicas read the updated weights (shared storage).
    for (const auto& o : others) {
      CHECK(o->weight.value().raw_data() == model.weight.value().raw_data());
      CHECK(o->bias.value().item() == model.bias.value().item());
    }
  }
  set_num_threads(threads_before);
}

TEST_CASE(
    "data-parallel training: the same shard count gives the same run, and a resumed run "
    "ends byte-identical to an uninterrupted one") {
  // A model with dropout in every replica: the replicas' generators are reseeded from the
  // trainer's at each step, so the state file covers them.
  class Noisy : public nn::Module {
   public:
    Noisy(std::uint64_t seed, Generator* dropout) : Module("Noisy"), dropout_(dropout) {
      Generator init(seed);
      linear = register_module("linear", std::make_shared<nn::Linear>(2, 1, true, kFloat64, &init));
    }
    Variable forward(const Variable& x) {
      return (*linear)(nn::functional::dropout(x, 0.25, is_training(), dropout_));
    }
    std::shared_ptr<nn::Linear> linear;

   private:
    Generator* dropout_;
  };
  auto run = [](const std::filesystem::path& out, std::int64_t steps, bool resume,
                std::uint64_t init_seed) {
    Generator gen(resume ? 999 : 5);
    Noisy model(init_seed, &gen);
    optim::Adam adam(model.parameters(), {.lr = 1e-2});
    Trainer t(model, adam, gen,
              {.max_steps = steps,
               .eval_every = 4,
               .out = out,
               .resume = resume,
               .config = {{"steps", steps}},
               .may_change_on_resume = {"steps"}});
    // The replica starts from other weights and its generator at another state: both are
    // replaced (the model's weights, a seed drawn from gen at each step).
    t.set_replicas(2, [&](Generator* g) {
      g->manual_seed(resume ? 77 : 11);
      return std::make_shared<Noisy>(init_seed + 1, g);
    });
    t.fit_data_parallel(
        [](std::int64_t, Generator& g) -> Trainer::ShardLoss {
          // Eight points of y = 3 x0 - 2 x1 + 1, drawn once; each shard takes its half.
          const Tensor x = randn({8, 2}, kFloat64, &g);
          const Tensor y = matmul(x, tensor({3, -2}, {2, 1}, kFloat64)) + 1.0;
          return [x, y](const Shard& s) {
            auto& m = static_cast<Noisy&>(s.model);
            const std::int64_t b = 4 * s.index;
            return BatchLoss{
                mean(
                    pow(m.forward(Variable(x.narrow(0, b, 4))) - Variable(y.narrow(0, b, 4)), 2.0)),
                4};
          };
        },
        [&] { return Evaluation{.loss = 1.0}; });
    return model.linear->weight.value().contiguous().to_vector<double>();
  };
  const auto a = seqgrad::testing::fresh_folder("dp_a"), b = seqgrad::testing::fresh_folder("dp_b"),
             resumed = seqgrad::testing::fresh_folder("dp_resumed");
  const auto wa = run(a, 12, false, 3);
  CHECK(run(b, 12, false, 3) == wa);
  CHECK(seqgrad::testing::file_bytes(a / "last.safetensors") ==
        seqgrad::testing::file_bytes(b / "last.safetensors"));
  run(resumed, 4, false, 3);
  run(resumed, 12, true, 42);
  CHECK(seqgrad::testing::file_bytes(a / "last.safetensors") ==
        seqgrad::testing::file_bytes(resumed / "last.safetensors"));
  // Dropout made the shards' steps differ from a plain regression: the weights moved.
  CHECK(wa != std::vector<double>{0, 0});
}

TEST_CASE("data-parallel training: errors name the shard, the parameter or what is missing") {
  nn::Linear model(2, 1, true, kFloat64);
  optim::SGD sgd(model.parameters(), {.lr = 0.1});
  Generator gen(1);
  Trainer trainer(model, sgd, gen);
  CHECK_THROWS_WITH_AS(trainer.step_data_parallel([](const Shard& s) {
    return squared_error(s.model, {0, 1, 2, 3, 4});
  }),
                       doctest::Contains("no replicas (set_replicas)"), Error);
  CHECK_THROWS_WITH_AS(
      trainer.set_replicas(
          2, [](Generator*) { return std::make_shared<nn::Linear>(3, 1, true, kFloat64); }),
      doctest::Contains("share_parameters: parameter 0 is weight [1, 3] float64, the source's is "
                        "weight [1, 2] float64"),
      Error);
  CHECK_THROWS_WITH_AS(
      trainer.set_replicas(
          2, [&](Generator*) { return std::shared_ptr<nn::Module>(&model, [](nn::Module*) {}); }),
      doctest::Contains("the model itself is not a replica"), Error);
  CHECK_THROWS_WITH_AS(trainer.set_replicas(2, [](Generator*) { return nullptr; }),
                       doctest::Contains("replica 1 was not made"), Error);
  CHECK_THROWS_WITH_AS(
      trainer.set_replicas(
          1, [](Generator*) { return std::make_shared<nn::Linear>(2, 1, true, kFloat64); }),
      doctest::Contains("needs 2 or more shards, got 1"), Error);
  trainer.set_replicas(
      2, [](Generator*) { return std::make_shared<nn::Linear>(2, 1, true, kFloat64); });
  set_start(model);
  // A shard that throws: the error reaches the caller, nothing is updated, and the next step runs.
  CHECK_THROWS_WITH_AS(trainer.step_data_parallel([](const Shard& s) -> BatchLoss {
    if (s.index == 1) fail("bad batch in shard {}", s.index);
    return shard_error(s);
  }),
                       doctest::Contains("bad batch in shard 1"), Error);
  CHECK(model.bias.value().item() == 0.25);
  CHECK(trainer.progress().step == 0);
  const StepReport r = trainer.step_data_parallel([](const Shard& s) { return shard_error(s); });
  CHECK(r.step == 1);
  CHECK(model.bias.value().item() != 0.25);
}

TEST_CASE(
    "SerialScope: loops on this thread run serially while it lives; other threads do not "
    "notice") {
  const int before = get_num_threads();
  set_num_threads(2);
  {
    const SerialScope serial;
    CHECK(intra_op_threads() == 1);
    int seen_elsewhere = 0;
    std::thread([&] { seen_elsewhere = intra_op_threads(); }).join();
    CHECK(seen_elsewhere == 2);
    std::int64_t chunks = 0;
    parallel_for_chunks(1000, [&](int, std::int64_t, std::int64_t) { ++chunks; });
    CHECK(chunks == 1);
  }
  CHECK(intra_op_threads() == 2);
  set_num_threads(before);
}

TEST_CASE("Shard::deal: item i goes to shard i mod count") {
  nn::Linear m(1, 1);
  const std::vector<int> batch = {10, 11, 12, 13, 14, 15, 16};
  CHECK(Shard{0, 3, m}.deal(batch) == std::vector<int>{10, 13, 16});
  CHECK(Shard{1, 3, m}.deal(batch) == std::vector<int>{11, 14});
  CHECK(Shard{2, 3, m}.deal(batch) == std::vector<int>{12, 15});
  CHECK(Shard{1, 2, m}.deal(std::vector<int>{7}).empty());
}
