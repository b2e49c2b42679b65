// Properties every encoder-decoder must have, checked for cho, seq2seq and attention (the last
// two also with --encoder cnn):
// - the step-by-step decoder (what greedy and beam search use) gives the same log-likelihood as
//   the teacher-forced training loss, which runs a different code path (whole sequences, padding
//   skipped, output layer on real tokens only);
// - padding a batch does not change a sequence's loss: the sum over a ragged batch equals the sum
//   of each pair's loss alone;
// - every parameter receives a gradient.
#include <doctest/doctest.h>

#include <memory>

#include "models/attention.h"
#include "models/cho.h"
#include "models/seq2seq.h"

using namespace seqgrad;
using namespace seqgrad::models;
using namespace seqgrad::data;

namespace {

std::vector<std::shared_ptr<EncoderDecoder>> all_models(std::int64_t vocab, Generator& gen) {
  return {
      std::make_shared<Cho>(ChoConfig{vocab, vocab, 5, 6, 3}, &gen),
      std::make_shared<Seq2Seq>(Seq2SeqConfig{vocab, vocab, "lstm", 5, 6, 2, true}, &gen),
      std::make_shared<Attention>(AttentionConfig{vocab, vocab, 5, 6, 4}, &gen),
      // The convolutional encoder (nn/conv_encoder.h) in both models that take it.
      std::make_shared<Seq2Seq>(
          Seq2SeqConfig{vocab, vocab, "lstm", 5, 6, 2, true, 0.0, "cnn", 2, 3}, &gen),
      std::make_shared<Attention>(AttentionConfig{vocab, vocab, 5, 6, 4, 0.0, "cnn", 2, 5}, &gen)};
}

// -log p(gold | source) summed over the batch, through start_decoding/decode_step.
double stepwise_nll(EncoderDecoder& m, const Batch& b) {
  auto state = m.start_decoding(b.src, b.src_len);
  double nll = 0;
  const std::int64_t B = b.gold.size(0), T = b.gold.size(1);
  for (std::int64_t t = 0; t < T; ++t) {
    const Tensor lp = m.decode_step(state, b.prev.select(1, t).contiguous()).to(kFloat64);
    for (std::int64_t i = 0; i < B; ++i) {
      const auto g = static_cast<std::int64_t>(b.gold.select(0, i).select(0, t).item());
      if (g != kPad) nll -= lp.select(0, i).select(0, g).item();
    }
  }
  return nll;
}

}  // namespace

TEST_CASE("encoder-decoders: stepwise decoding, padding and gradients agree with the loss") {
  const Vocab v = Vocab::build({"abcdef"}, Tokens::Char);
  const std::vector<Pair> pairs = {{"abcde", "edcba"}, {"fa", "af"}, {"cab", "bac"}};
  Generator gen(9);
  for (const auto& m : all_models(v.size(), gen)) {
    CAPTURE(m->type_name());
    m->eval();
    const Batch batch = make_batch(pairs, v, v);
    const double loss = m->loss(batch).item();
    CHECK(stepwise_nll(*m, batch) == doctest::Approx(loss).epsilon(1e-4));
    double alone = 0;
    for (const Pair& p : pairs) alone += m->loss(make_batch({p}, v, v)).item();
    CHECK(alone == doctest::Approx(loss).epsilon(1e-4));
    m->train();
    m->zero_grad();
    m->loss(batch).backward();
    for (const auto& [name, p] : m->named_parameters()) {
      CAPTURE(name);
      CHECK(p.grad().defined());
    }
  }
}

TEST_CASE("attention: a reset-before decoder cell is refused by the fused training loss") {
  const Vocab v = Vocab::build({"abc"}, Tokens::Char);
  Generator gen(3);
  Attention m(AttentionConfig{v.size(), v.size(), 5, 6, 4}, &gen);
  m.decoder->reset = nn::functional::GruReset::Before;
  CHECK_THROWS_WITH_AS(m.loss(make_batch({{"abc", "cba"}}, v, v)),
                       "Attention::loss: the fused decoder needs a reset-after GRU cell (the "
                       "default)",
                       Error);
}
