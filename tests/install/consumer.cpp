// Builds against the installed headers and libraries: a registered model by name, trained by the
// Trainer for a few steps on a built-in task. Prints the model names and the loss going down.
#include <fmt/core.h>

#include "data/training_data.h"
#include "models/registry.h"
#include "seqgrad.h"

using namespace seqgrad;

int main() {
  const data::TrainingData copy = data::task_data({"copy", 2, 4});
  Generator gen(1);
  const auto model = models::make_model("cho", R"({"emb": 8, "hidden": 16, "maxout": 8})",
                                        copy.src_vocab.size(), copy.tgt_vocab.size(), &gen);
  optim::Adam adam(model->parameters(), {.lr = 1e-2});
  train::Trainer trainer(*model, adam, gen, {.max_steps = 40});
  std::vector<double> losses;
  struct Losses : train::Callback {
    explicit Losses(std::vector<double>& l) : losses(l) {}
    void on_step_end(const train::Trainer&, const train::StepReport& r) override {
      losses.push_back(r.loss);
    }
    std::vector<double>& losses;
  };
  trainer.add_callback(std::make_shared<Losses>(losses));
  trainer.fit([&](std::int64_t, Generator& g) {
    const data::Batch b = data::make_batch(copy.sample(32, g), copy.src_vocab, copy.tgt_vocab);
    return train::BatchLoss{model->loss(b) / static_cast<double>(b.target_tokens), b.target_tokens};
  });
  fmt::print("models: {}\nloss {:.3f} -> {:.3f}\n", fmt::join(models::model_names(), ", "),
             losses.front(), losses.back());
  return losses.back() < losses.front() ? 0 : 1;
}
