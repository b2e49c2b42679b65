// The Transformer against ../shared/reference/transformer.py (PyTorch's nn.Transformer), both
// ways. Checkpoints the reference exported (fixtures/transformer/reference_*.safetensors: pre- and
// post-LN, 1-3 layers, 1-4 heads, weights drawn from N(0, 0.3^2)) give, on the ragged batch of
// pairs.tsv, the loss the reference printed (*.json) and the gradient of every parameter that
// PyTorch's autograd computed (*.grads.safetensors), within float32 rounding. Written by
// tools/make_transformer_fixtures.py. Checkpoints `seqgrad train --model transformer` wrote
// (seqgrad_*.safetensors, 40 steps on pairs.tsv, pre- and post-LN) give the loss the reference
// printed for them with --load. Then: KV-cached decoding equals the teacher-forced pass,
// padding never leaks into real positions, and bad configurations are refused.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "data/tsv.h"
#include "models/evaluate.h"
#include "models/registry.h"
#include "models/seq2seq_io.h"
#include "models/transformer.h"
#include "nn/checkpoint.h"

using namespace seqgrad;
using namespace seqgrad::models;
using namespace seqgrad::data;
namespace fs = std::filesystem;

namespace transformer_test {

// Every element of got within rtol * (max |expected| of the tensor): float32 sums over different
// orders differ by rounding relative to the tensor's scale, not each element's.
void check_close_to_scale(const Tensor& got, const Tensor& expected, double rtol) {
  REQUIRE(got.shape() == expected.shape());
  const auto g = got.to(kFloat64).contiguous().to_vector<double>();
  const auto e = expected.to(kFloat64).contiguous().to_vector<double>();
  double scale = 0;
  for (double v : e) scale = std::max(scale, std::abs(v));
  double worst = 0;
  for (std::size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::abs(g[i] - e[i]));
  CHECK_MESSAGE(worst <= rtol * scale + 1e-9,
                fmt::format("max error {:.3g} against scale {:.3g}", worst, scale));
}

Transformer& as_transformer(EncoderDecoder& net) {
  auto* t = dynamic_cast<Transformer*>(&net);
  REQUIRE(t != nullptr);
  return *t;
}

}  // namespace transformer_test

using namespace transformer_test;

TEST_CASE("transformer: the reference's checkpoints give its loss and its gradients") {
  const fs::path dir = "fixtures/transformer";  // tests run in tests/
  const auto pairs = read_tsv((dir / "pairs.tsv").string());
  int checked = 0, with_gradients = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string file = entry.path().filename().string();
    if (entry.path().extension() != ".safetensors" || file.find(".grads.") != std::string::npos)
      continue;
    CAPTURE(file);
    const LoadedModel m = load_model(entry.path().string());
    CHECK(m.model == "transformer");
    std::ifstream in(fs::path(entry.path()).replace_extension(".json"));
    REQUIRE(in.good());
    const auto expected = nlohmann::json::parse(in);
    const EvalResult r = evaluate(*m.net, pairs, m.src_vocab, m.tgt_vocab);
    CHECK(r.tokens == expected["tokens"].get<std::int64_t>());
    CHECK(r.loss == doctest::Approx(expected["loss"].get<double>()).epsilon(1e-5));

    ++checked;
    // Gradients of the mean loss over the whole file as one batch, as the reference's autograd.
    fs::path grads_path = entry.path();
    grads_path.replace_extension(".grads.safetensors");
    if (!fs::exists(grads_path)) continue;  // seqgrad's own checkpoints: the loss only
    const nn::SafetensorsFile grads = nn::load_safetensors(grads_path.string());
    const Batch b = make_batch(pairs, m.src_vocab, m.tgt_vocab);
    m.net->eval();  // no dropout: the reference ran without
    m.net->zero_grad();
    const Variable loss = m.net->loss(b) / static_cast<double>(b.target_tokens);
    CHECK(loss.item() == doctest::Approx(std::stod(grads.metadata.at("loss"))).epsilon(1e-5));
    loss.backward();
    const auto params = m.net->named_parameters();
    CHECK(params.size() == grads.tensors.size());
    for (const auto& [name, p] : params) {
      CAPTURE(name);
      REQUIRE(grads.tensors.count(name) == 1);
      REQUIRE(p.grad().defined());
      check_close_to_scale(p.grad(), grads.tensors.at(name), 1e-4);
    }
    ++with_gradients;
  }
  CHECK(checked == 7);
  CHECK(with_gradients == 5);
}

TEST_CASE("transformer: KV-cached decoding gives the teacher-forced log-probabilities") {
  for (const bool norm_first : {true, false}) {
    CAPTURE(norm_first);
    Generator gen(5);
    TransformerConfig c;
    c.src_vocab = 9;
    c.tgt_vocab = 11;
    c.d_model = 12;
    c.heads = 3;
    c.layers = 2;
    c.ffn = 20;
    c.norm_first = norm_first;
    Transformer model(c, &gen);
    model.eval();
    const Vocab sv = Vocab::build({"abcde"}, Tokens::Char),
                tv = Vocab::build({"vwxyzuv"}, Tokens::Char);
    const Batch b = make_batch({{"abc", "vwxyz"}, {"edcbaa", "zy"}}, sv, tv);
    NoGradGuard no_grad;
    const std::int64_t B = 2, T = b.prev.size(1);
    // Teacher forced: every row's full length (padding keys masked per row).
    std::vector<std::int64_t> tgt_len = {T, T};
    const Variable memory = model.encode(b.src, b.src_len);
    const Tensor h = model.decode(memory, b.src_len, b.prev, tgt_len).value();
    const Tensor forced =
        log_softmax(
            model.output->forward(Variable(model.decoder->norm->forward(Variable(h)).value())), 2)
            .value();
    // Step by step, feeding the same prev tokens.
    auto state = model.start_decoding(b.src, b.src_len);
    for (std::int64_t t = 0; t < T; ++t) {
      CAPTURE(t);
      const Tensor step = model.decode_step(state, b.prev.select(1, t).contiguous());
      const Tensor want = forced.select(1, t);
      CHECK(amax(abs(step - want)).item() < 1e-4);
    }
    (void)B;
  }
}

TEST_CASE("transformer: padding in one row never changes another row") {
  Generator gen(6);
  TransformerConfig c;
  c.src_vocab = 9;
  c.tgt_vocab = 9;
  c.d_model = 8;
  c.heads = 2;
  c.layers = 2;
  c.ffn = 16;
  Transformer model(c, &gen);
  model.eval();
  const Vocab v = Vocab::build({"abcde"}, Tokens::Char);
  // The same pair alone and beside a much longer one: its loss is the same.
  const Batch alone = make_batch({{"ab", "ba"}}, v, v);
  const Batch padded = make_batch({{"ab", "ba"}, {"abcdeabcde", "edcbaedcba"}}, v, v);
  const Batch other = make_batch({{"abcdeabcde", "edcbaedcba"}}, v, v);
  const double a = model.loss(alone).item(), both = model.loss(padded).item(),
               o = model.loss(other).item();
  CHECK(both == doctest::Approx(a + o).epsilon(1e-5));
}

TEST_CASE("transformer: bad configurations and inputs get one clear error") {
  auto make = [](const std::string& json) { return make_model("transformer", json, 9, 9); };
  CHECK_THROWS_WITH(
      make(R"({"d_model": 10, "heads": 4, "layers": 1, "ffn": 8, "norm_first": true})"),
      doctest::Contains("heads (4) must divide d_model (10)"));
  CHECK_THROWS_WITH(
      make(R"({"d_model": 8, "heads": 2, "layers": 0, "ffn": 8, "norm_first": true})"),
      doctest::Contains("'layers' = 0 is out of range"));
  Generator gen(7);
  TransformerConfig c;
  c.src_vocab = 9;
  c.tgt_vocab = 9;
  c.d_model = 8;
  c.heads = 2;
  c.layers = 1;
  c.ffn = 8;
  c.max_positions = 4;
  Transformer model(c, &gen);
  const Vocab v = Vocab::build({"abcde"}, Tokens::Char);
  CHECK_THROWS_WITH(model.loss(make_batch({{"abcde", "ab"}}, v, v)),
                    doctest::Contains("6 tokens is longer than the position table (4"));
}

namespace transformer_test {
// The sample standard deviation of every element of t.
double sample_std(const Tensor& t) {
  const auto v = t.to(kFloat64).contiguous().to_vector<double>();
  double mean = 0, sq = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (double x : v) sq += (x - mean) * (x - mean);
  return std::sqrt(sq / static_cast<double>(v.size() - 1));
}
}  // namespace transformer_test

TEST_CASE("transformer: embeddings start at the positions' scale, or at PyTorch's N(0, 1)") {
  // 200 x 256 draws: the sample std is within ~0.5% of sigma; 5% tolerates any seed.
  for (const auto& [init, std] : {std::pair<std::string, double>{"scaled", 1.0 / 16.0},
                                  std::pair<std::string, double>{"pytorch", 1.0}}) {
    CAPTURE(init);
    const auto net = make_model("transformer",
                                R"({"d_model": 256, "heads": 4, "layers": 1, "ffn": 8, )"
                                R"("norm_first": true, "embed_init": ")" +
                                    init + "\"}",
                                200, 200);
    Transformer& t = as_transformer(*net);
    for (const Tensor& w : {t.src_embed->weight.value(), t.tgt_embed->weight.value()})
      CHECK(sample_std(w) == doctest::Approx(std).epsilon(0.05));
  }
  CHECK_THROWS_WITH(make_model("transformer",
                               R"({"d_model": 8, "heads": 2, "layers": 1, "ffn": 8, )"
                               R"("norm_first": true, "embed_init": "xavier"})",
                               9, 9),
                    doctest::Contains("unknown embed_init 'xavier', expected scaled or pytorch"));
}
