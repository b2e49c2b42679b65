// A new encoder-decoder in one file, trained by name (docs/new-model.md is the guide):
//
//   build/seqgrad --plugin build/examples/libcustom_model.so train --model bag --task sort
//   build/examples/custom_model        the same model trained from C++ through the Trainer
//
// The model: the encoder is a bag of embeddings, c = tanh(W mean_j emb(x_j) + b): it sees which
// characters the source holds but not their order, so it can learn `sort` (whose output depends
// only on that multiset) and cannot learn `reverse`. The decoder is a GRU whose initial state is c
// and whose input at every step is the previous token's embedding next to c; logits = V h_t + d.
//
// A model is an EncoderDecoder (models/encoder_decoder.h): a training loss over a batch and
// step-by-step decoding, from which greedy and beam search, evaluation, translate and checkpoints
// all follow. RegisterModel makes it known by name with its options (--emb, --hidden), read from
// and written to checkpoints as JSON.
#include <fmt/core.h>

#include "data/training_data.h"
#include "models/encoder_decoder.h"
#include "models/evaluate.h"
#include "models/registry.h"
#include "seqgrad.h"

using namespace seqgrad;

namespace {

struct BagConfig {
  std::int64_t src_vocab = 0, tgt_vocab = 0;  // set from the data
  std::int64_t emb = 64, hidden = 256;
};

class Bag : public models::EncoderDecoder {
 public:
  Bag(const BagConfig& c, Generator* gen) : EncoderDecoder("Bag") {
    using std::make_shared;
    src_embed = register_module(
        "src_embed", make_shared<nn::Embedding>(c.src_vocab, c.emb, std::nullopt, kFloat32, gen));
    tgt_embed = register_module(
        "tgt_embed", make_shared<nn::Embedding>(c.tgt_vocab, c.emb, std::nullopt, kFloat32, gen));
    context =
        register_module("context", make_shared<nn::Linear>(c.emb, c.hidden, true, kFloat32, gen));
    decoder = register_module("decoder", make_shared<nn::GRUCell>(nn::CellConfig{
                                             c.emb + c.hidden, c.hidden, kFloat32, gen}));
    output = register_module("output",
                             make_shared<nn::Linear>(c.hidden, c.tgt_vocab, true, kFloat32, gen));
  }

  // Teacher forcing: the summed negative log-likelihood of the gold tokens (padding ignored).
  Variable loss(const data::Batch& b) override {
    const Variable c = encode(b.src);
    const Variable e = tgt_embed->forward(b.prev);  // [B, T, E]: BOS + target
    Variable h = c;
    std::vector<Variable> logits;
    for (std::int64_t t = 0; t < b.prev.size(1); ++t) {
      h = decoder->step(cat({e.select(1, t), c}, 1), {h})[0];
      logits.push_back(output->forward(h));
    }
    const Variable all = stack(logits, 1);  // [B, T, V]
    return nn::functional::cross_entropy(all.reshape({-1, all.size(2)}), b.gold.reshape({-1}),
                                         nn::functional::Reduction::Sum, data::kPad);
  }

  // Decoding state: {h, c}, one row per sequence.
  DecoderState start_decoding(const Tensor& src, const std::vector<std::int64_t>&) override {
    NoGradGuard no_grad;
    const Tensor c = encode(src).value();
    return {c, c};
  }
  Tensor decode_step(DecoderState& state, const Tensor& y) override {
    NoGradGuard no_grad;
    const Variable c(state[1]);
    const Variable h = decoder->step(cat({tgt_embed->forward(y), c}, 1), {Variable(state[0])})[0];
    state[0] = h.value();
    return log_softmax(output->forward(h), 1).value();
  }

  std::shared_ptr<nn::Embedding> src_embed, tgt_embed;
  std::shared_ptr<nn::Linear> context, output;
  std::shared_ptr<nn::GRUCell> decoder;

 private:
  // c [B, H] from src [B, S] (ids, EOS included, PAD after): the mean of the real positions'
  // embeddings through a tanh layer.
  Variable encode(const Tensor& src) {
    const Tensor real = ne(src, static_cast<double>(data::kPad)).to(kFloat32);  // [B, S]
    const Variable summed = sum(src_embed->forward(src) * Variable(real.unsqueeze(2)), {1});
    return tanh(context->forward(summed / Variable(sum(real, {1}, true))));
  }
};

// `seqgrad train --model bag` now works, with --emb and --hidden.
const models::RegisterModel<Bag, BagConfig> registration(
    "bag", "a bag-of-embeddings encoder and a GRU decoder (examples/custom_model.cpp)",
    models::ConfigFields<BagConfig>()
        .add("emb", &BagConfig::emb, "Embedding size", 1, 65536)
        .add("hidden", &BagConfig::hidden, "Hidden state size", 1, 65536));

}  // namespace

#ifndef SEQGRAD_PLUGIN
// The same model trained from C++: the data, the model by name, the Trainer.
int main() {
  set_num_threads(1);
  const data::TrainingData sort = data::task_data({"sort", 3, 8});
  Generator gen(1);
  const auto model = models::make_model("bag", R"({"emb": 32, "hidden": 128})",
                                        sort.src_vocab.size(), sort.tgt_vocab.size(), &gen);
  optim::Adam adam(model->parameters(), {.lr = 3e-3});
  train::Trainer trainer(*model, adam, gen, {.max_steps = 1500, .eval_every = 500, .clip = 5});
  trainer.add_callback(std::make_shared<train::ProgressLog>("tok"));
  const train::TrainResult r = trainer.fit(
      [&](std::int64_t, Generator& g) {
        const data::Batch b = data::make_batch(sort.sample(64, g), sort.src_vocab, sort.tgt_vocab);
        return train::BatchLoss{model->loss(b) / static_cast<double>(b.target_tokens),
                                b.target_tokens};
      },
      [&] {
        const models::EvalResult m =
            models::evaluate(*model, sort.dev, sort.src_vocab, sort.tgt_vocab);
        return train::Evaluation{.loss = m.loss,
                                 .score = m.sequence_accuracy,
                                 .metrics = {{"sequence_accuracy", m.sequence_accuracy}}};
      });
  fmt::print("bag on sort: {:.1f}% of the held-out set exactly right after {} steps\n",
             100 * r.last_evaluation->score, r.progress.step);
  return r.last_evaluation->score > 0.5 ? 0 : 1;
}
#endif
