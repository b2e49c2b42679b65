// seq2seq and attention with --encoder cnn (nn/conv_encoder.h): the source's padding changes
// nothing, configs written before the option existed still mean the recurrent encoder, and a bad
// value is one clear error naming it. (encoder_decoder_test.cpp checks both models' stepwise
// decoding, batch = rows alone, and gradients with the cnn encoder too.)
#include <doctest/doctest.h>

#include <memory>

#include "models/attention.h"
#include "models/registry.h"
#include "models/seq2seq.h"

using namespace seqgrad;
using namespace seqgrad::models;
using namespace seqgrad::data;

namespace {

// Keys a model does not take (attention: cell, layers; seq2seq: attention) are ignored.
std::vector<std::shared_ptr<EncoderDecoder>> cnn_models(std::int64_t vocab) {
  const std::string config =
      nlohmann::json{{"cell", "lstm"}, {"layers", 2},      {"emb", 6},         {"hidden", 8},
                     {"attention", 0}, {"encoder", "cnn"}, {"conv_layers", 3}, {"kernel", 3}}
          .dump();
  return {make_model("seq2seq", config, vocab, vocab),
          make_model("attention", config, vocab, vocab)};
}

}  // namespace

TEST_CASE("cnn encoder: other tokens in a row's padding change no row's loss or decoding") {
  const Vocab v = Vocab::build({"abcdef"}, Tokens::Char);
  const Batch batch = make_batch({{"ab", "ba"}, {"abcdef", "fedcba"}, {"cab", "bac"}}, v, v);
  REQUIRE(batch.src_len[0] < batch.src.size(1));
  Batch other = batch;
  other.src = batch.src.clone();
  for (std::int64_t s = batch.src_len[0]; s < batch.src.size(1); ++s)
    other.src.select(0, 0).select(0, s).fill_(static_cast<double>(v.id("f")));
  for (const auto& m : cnn_models(v.size())) {
    CAPTURE(m->type_name());
    m->eval();
    CHECK(m->loss(other).item() == m->loss(batch).item());
    auto a = m->start_decoding(batch.src, batch.src_len);
    auto b = m->start_decoding(other.src, other.src_len);
    const Tensor y = batch.prev.select(1, 0).contiguous();
    const auto la = m->decode_step(a, y).contiguous().to_vector<float>();
    CHECK(m->decode_step(b, y).contiguous().to_vector<float>() == la);
  }
}

TEST_CASE("cnn encoder: a config without the key means the recurrent encoder") {
  const auto s2s = std::dynamic_pointer_cast<Seq2Seq>(
      make_model("seq2seq", R"({"cell": "gru", "emb": 4, "hidden": 5, "layers": 1})", 6, 6));
  REQUIRE(s2s);
  CHECK(s2s->config().encoder == "rnn");
  CHECK(s2s->encoder != nullptr);
  CHECK(s2s->conv_encoder == nullptr);
  const auto att = std::dynamic_pointer_cast<Attention>(
      make_model("attention", R"({"emb": 4, "hidden": 5, "attention": 0})", 6, 6));
  REQUIRE(att);
  CHECK(att->config().encoder == "rnn");
  CHECK(att->conv_encoder == nullptr);
  // With it, the parameters are the encoder's, named as fairseq names them.
  const auto cnn = make_model(
      "attention",
      R"({"emb": 4, "hidden": 5, "attention": 0, "encoder": "cnn", "conv_layers": 2, "kernel": 5})",
      6, 6);
  const auto params = cnn->state_dict();
  CHECK(params.at("encoder.convolutions.1.weight").shape() == Dims{10, 5, 5});
  CHECK(params.at("encoder.fc2.weight").shape() == Dims{10, 5});
  CHECK(params.at("init.weight").shape() == Dims{5, 10});
  CHECK(params.count("src_embed.weight") == 0);
}

TEST_CASE("cnn encoder: a bad kernel, layer count or encoder name is one clear error") {
  const std::string base = R"({"cell": "lstm", "emb": 4, "hidden": 5, "layers": 1, "encoder": )";
  CHECK_THROWS_WITH_AS(make_model("seq2seq", base + R"("cnn", "kernel": 0})", 6, 6),
                       "model 'seq2seq': 'kernel' = 0 is out of range [1, 1023]", Error);
  CHECK_THROWS_WITH_AS(make_model("seq2seq", base + R"("cnn", "kernel": 4})", 6, 6),
                       "ConvEncoder: the kernel size must be odd and positive (the output of each "
                       "position centred on it), got 4",
                       Error);
  CHECK_THROWS_WITH_AS(
      make_model("attention", R"({"emb": 4, "hidden": 5, "attention": 0, "conv_layers": 0})", 6, 6),
      "model 'attention': 'conv_layers' = 0 is out of range [1, 1024]", Error);
  CHECK_THROWS_WITH_AS(make_model("seq2seq", base + R"("conv"})", 6, 6),
                       "Seq2Seq: --encoder must be rnn or cnn, got 'conv'", Error);
}
