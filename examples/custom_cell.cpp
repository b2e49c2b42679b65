// A new recurrent cell in a dozen lines, trained by name (docs/new-cell.md is the guide).
//
// The cell is IndRNN (Li, Li, Cook, Zhu and Gao, 2018), which PyTorch does not have: every hidden
// unit has a single recurrent weight instead of a row of a matrix,
//   h' = relu(W x + u ⊙ h + b).
// step() composes differentiable ops, so there is no backward code; register_cell makes the cell
// available to nn::Recurrent by name, which gives it multi-layer, bidirectional and padded-batch
// support through Cell::run.
//
// The task: read a sequence of 10 to 40 numbers drawn from U(-1, 1) and say whether their sum is
// positive. Sequences in a batch have different lengths; the padding after each one's end is
// random noise, which the network must ignore (and does: the lengths are passed to it).
//
//   build/examples/custom_cell              trains "indrnn" (defined here), then the built-in "mgu"
//   build/examples/custom_cell gru lstm     any registered cells, by name
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "seqgrad.h"

using namespace seqgrad;

// --- the new cell ------------------------------------------------------------------------------
class IndRNNCell : public nn::Cell {
 public:
  explicit IndRNNCell(const nn::CellConfig& c) : Cell("IndRNNCell", c.input_size, c.hidden_size) {
    const double k = 1.0 / std::sqrt(static_cast<double>(c.input_size));
    weight_ih = register_parameter(
        "weight_ih", uniform_(empty({c.hidden_size, c.input_size}, c.dtype), -k, k, c.gen));
    weight_hh =
        register_parameter("weight_hh", uniform_(empty({c.hidden_size}, c.dtype), 0.0, 1.0, c.gen));
    bias = register_parameter("bias", zeros({c.hidden_size}, c.dtype));
  }

  // x [B, I], state {h [B, H]} -> {h'}. weight_hh [H] broadcasts over the batch.
  nn::State step(const Variable& x, const nn::State& state) override {
    return {relu(nn::functional::linear(x, weight_ih, bias) + weight_hh * state[0])};
  }

  Variable weight_ih;  // W [H, I]
  Variable weight_hh;  // u [H]: one recurrent weight per unit
  Variable bias;       // b [H]
};

// --- the task ----------------------------------------------------------------------------------
constexpr std::int64_t kMaxLen = 40, kMinLen = 10;

struct Batch {
  Tensor x;                           // [kMaxLen, B, 1], time-first, noise past each length
  std::vector<std::int64_t> lengths;  // [B]
  Tensor labels;                      // [B] int64: 1 when the sum of the first `length` is > 0
};

Batch make_batch(std::int64_t batch, Generator& gen) {
  Batch b{rand({kMaxLen, batch, 1}, kFloat32, &gen) * 2.0 - 1.0, {}, {}};
  b.lengths = randint(kMinLen, kMaxLen + 1, {batch}, &gen).to_vector<std::int64_t>();
  const auto x = b.x.to_vector<float>();
  std::vector<std::int64_t> labels;
  for (std::int64_t i = 0; i < batch; ++i) {
    double total = 0.0;
    for (std::int64_t t = 0; t < b.lengths[static_cast<std::size_t>(i)]; ++t)
      total += x[static_cast<std::size_t>(t * batch + i)];
    labels.push_back(total > 0.0 ? 1 : 0);
  }
  b.labels = from_vector(labels, {batch});
  return b;
}

// --- the model: any registered cell, by name, and a linear classifier on its final state -------
class Classifier : public nn::Module {
 public:
  Classifier(const std::string& cell, Generator& gen) : Module("Classifier") {
    rnn = register_module(
        "rnn", std::make_shared<nn::Recurrent>(cell, 1, 32, nn::RecurrentOptions{.gen = &gen}));
    head = register_module("head", std::make_shared<nn::Linear>(32, 2, true, kFloat32, &gen));
  }

  Variable operator()(const Batch& b) {
    const nn::RecurrentOutput out = (*rnn)(Variable(b.x), {}, b.lengths);
    // state[0] is h_n [num_layers * directions, B, H]: each sequence's state at its own last step.
    return (*head)(out.state[0].select(0, 0));
  }

  std::shared_ptr<nn::Recurrent> rnn;
  std::shared_ptr<nn::Linear> head;
};

double accuracy(Classifier& model, const Batch& b) {
  NoGradGuard no_grad;
  const Tensor predicted = argmax(model(b), 1);
  return sum(eq(predicted, b.labels).to(kFloat64)).item() / static_cast<double>(b.labels.numel());
}

// Trains `cell` and returns its final test accuracy.
double train_cell(const std::string& cell) {
  Generator gen(7);  // the same data and the same seed for every cell
  Classifier model(cell, gen);
  constexpr int kSteps = 1000, kEvery = 100;
  optim::Adam adam(model.parameters(), {.lr = 1e-2});
  const Batch test = make_batch(2000, gen);
  fmt::print("{}: {} parameters\n", cell, model.num_parameters());

  train::Trainer trainer(model, adam, gen,
                         {.max_steps = kSteps, .eval_every = kEvery, .clip = 1.0});
  // To 0 by the last step: a steady finish.
  trainer.set_schedule(std::make_shared<optim::CosineAnnealingLR>(adam, kSteps));
  const auto start = std::chrono::steady_clock::now();
  fmt::print("  step    0                     test accuracy {:5.1f}%\n",
             100.0 * accuracy(model, test));
  double loss_sum = 0.0;
  struct SumLoss : train::Callback {
    explicit SumLoss(double& sum) : sum(sum) {}
    void on_step_end(const train::Trainer&, const train::StepReport& r) override { sum += r.loss; }
    double& sum;
  };
  trainer.add_callback(std::make_shared<SumLoss>(loss_sum));
  const train::TrainResult r = trainer.fit(
      [&](std::int64_t, Generator& g) {
        const Batch b = make_batch(32, g);
        return train::BatchLoss{nn::functional::cross_entropy(model(b), b.labels), 32};
      },
      [&] {
        const double acc = accuracy(model, test);
        fmt::print("  step {:4d}  train loss {:.4f}  test accuracy {:5.1f}%\n",
                   trainer.progress().step, loss_sum / kEvery, 100.0 * acc);
        loss_sum = 0.0;
        return train::Evaluation{.score = acc};
      });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("  {:.1f} s\n", seconds);
  return r.last_evaluation->score;
}

int main(int argc, char** argv) {
  set_num_threads(1);
  // From here on, nn::Recurrent (and anything else that calls nn::make_cell) can build an IndRNN.
  nn::register_cell("indrnn",
                    [](const nn::CellConfig& c) { return std::make_shared<IndRNNCell>(c); });
  fmt::print("registered cells: {}\n", fmt::join(nn::cell_names(), ", "));

  std::vector<std::string> cells(argv + 1, argv + argc);
  if (cells.empty()) cells = {"indrnn", "mgu"};
  bool learned = true;
  for (const std::string& cell : cells) learned = train_cell(cell) > 0.9 && learned;
  fmt::print("{}\n", learned ? "Learned." : "Not learned.");
  return learned ? 0 : 1;
}
