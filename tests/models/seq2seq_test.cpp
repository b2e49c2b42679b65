// The seq2seq model against ../shared/reference/seq2seq.py, in both directions: checkpoints the
// reference exported (reference_*.safetensors: LSTM 2 layers with source reversal, GRU 1 layer,
// RNN 2 layers) and checkpoints `seqgrad train --model seq2seq` wrote (seqgrad_*.safetensors, LSTM
// and GRU, 2 layers, reversal on) give, on pairs.tsv, the loss the reference printed for them
// (*.json, from `seq2seq.py --data pairs.tsv --export/--load ...`).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/tsv.h"
#include "models/evaluate.h"
#include "models/seq2seq.h"
#include "models/seq2seq_io.h"

using namespace seqgrad;
using namespace seqgrad::models;
using namespace seqgrad::data;
namespace fs = std::filesystem;

TEST_CASE("seq2seq: every checkpoint of both sides gives the reference's loss") {
  const fs::path dir = "fixtures/seq2seq";  // tests run in tests/
  const auto pairs = read_tsv((dir / "pairs.tsv").string());
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".safetensors") continue;
    CAPTURE(entry.path().string());
    const LoadedModel m = load_model(entry.path().string());
    CHECK(m.model == "seq2seq");
    std::ifstream in(fs::path(entry.path()).replace_extension(".json"));
    REQUIRE(in.good());
    const auto expected = nlohmann::json::parse(in);
    const EvalResult r = evaluate(*m.net, pairs, m.src_vocab, m.tgt_vocab);
    CHECK(r.tokens == expected["tokens"].get<std::int64_t>());
    CHECK(r.loss == doctest::Approx(expected["loss"].get<double>()).epsilon(1e-4));
    ++checked;
  }
  CHECK(checked == 5);
}

TEST_CASE("seq2seq: source reversal keeps EOS last and padding in place") {
  const Tensor src =
      from_vector(std::vector<std::int64_t>{4, 5, 6, kEos, 7, kEos, kPad, kPad}, {2, 4});
  const Tensor r = reverse_before_eos(src, {4, 2});
  CHECK(r.to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{6, 5, 4, kEos, 7, kEos, kPad, kPad});
}

TEST_CASE("seq2seq: any registered cell trains a step and decodes") {
  for (const std::string cell : {"lstm", "gru", "rnn", "gru_cho", "mgu"}) {
    CAPTURE(cell);
    Generator gen(2);
    Seq2Seq model({8, 9, cell, 4, 5, 2, true, 0.1}, &gen);
    const Vocab v = Vocab::build({"abcd"}, Tokens::Char);
    const Batch b = make_batch({{"ab", "ba"}, {"abcd", "dcba"}}, v, v);
    model.loss(b).backward();
    for (const auto& [name, p] : model.named_parameters()) {
      CAPTURE(name);
      CHECK(p.grad().defined());
    }
    CHECK(model.greedy(b.src, b.src_len, 6).shape() == Dims{2, 6});
  }
}
