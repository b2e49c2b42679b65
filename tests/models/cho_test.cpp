// The cho model against its executable specification, ../shared/reference/cho.py: a checkpoint
// that the reference exported (tests/fixtures/cho/reference.safetensors, written by
//   /usr/bin/python3 cho.py --data pairs.tsv --export reference.safetensors --seed 3
//       --emb 8 --hidden 16 --maxout 4
// ) loads with its parameter names and metadata, and gives the teacher-forced loss the reference
// printed for the same TSV (reference_loss.json).
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "data/tsv.h"
#include "models/cho.h"
#include "models/evaluate.h"
#include "models/seq2seq_io.h"

using namespace seqgrad;
using namespace seqgrad::models;
using namespace seqgrad::data;

namespace {

const std::string kDir = "fixtures/cho/";  // tests run in tests/ (see tests/CMakeLists.txt)

std::vector<std::string> json_strings(const std::string& text) {
  return nlohmann::json::parse(text).get<std::vector<std::string>>();
}

}  // namespace

TEST_CASE("cho: a checkpoint exported by reference/cho.py gives the reference's loss") {
  const auto file = nn::load_safetensors(kDir + "reference.safetensors");
  CHECK(file.metadata.at("format") == "seqgrad-checkpoint");
  CHECK(file.metadata.at("model") == "cho");
  const auto config = nlohmann::json::parse(file.metadata.at("config"));
  const Vocab sv(json_strings(file.metadata.at("src_vocab")));
  const Vocab tv(json_strings(file.metadata.at("tgt_vocab")));
  Cho model({sv.size(), tv.size(), config["emb"], config["hidden"], config["maxout"]});
  model.load_state_dict(file.tensors);  // strict: the names and shapes are the reference's

  const auto pairs = read_tsv(kDir + "pairs.tsv");
  // The vocabularies the reference built from this TSV are the ones we build (same order).
  std::vector<std::string> sources, targets;
  for (const Pair& p : pairs) {
    sources.push_back(p.source);
    targets.push_back(p.target);
  }
  CHECK(Vocab::build(sources, Tokens::Char).tokens() == sv.tokens());
  CHECK(Vocab::build(targets, Tokens::Char).tokens() == tv.tokens());

  std::ifstream expected_file(kDir + "reference_loss.json");
  const auto expected = nlohmann::json::parse(expected_file);
  const Batch batch = make_batch(pairs, sv, tv);
  CHECK(batch.target_tokens == expected["tokens"].get<std::int64_t>());
  const double loss = model.loss(batch).item() / static_cast<double>(batch.target_tokens);
  CHECK(loss == doctest::Approx(expected["loss"].get<double>()).epsilon(1e-4));
}

TEST_CASE("cho: gradients reach every parameter and greedy decoding has the right shape") {
  Generator gen(1);
  Cho model({10, 12, 4, 6, 3}, &gen);
  Batch batch;
  batch.src = from_vector(std::vector<std::int64_t>{5, 6, kEos, 7, kEos, kPad}, {2, 3});
  batch.src_len = {3, 2};
  batch.prev = from_vector(std::vector<std::int64_t>{kBos, 4, 5, kBos, 6, kPad}, {2, 3});
  batch.gold = from_vector(std::vector<std::int64_t>{4, 5, kEos, 6, kEos, kPad}, {2, 3});
  batch.target_tokens = 5;
  model.loss(batch).backward();
  for (const auto& [name, p] : model.named_parameters()) {
    CAPTURE(name);
    REQUIRE(p.grad().defined());
  }
  const Tensor out = model.greedy(batch.src, batch.src_len, 4);
  CHECK(out.shape() == Dims{2, 4});
}

TEST_CASE(
    "cho: a checkpoint written by seqgrad train gives, in reference/cho.py --load, our loss") {
  // seqgrad_trained.safetensors: `seqgrad train --task reverse --min-len 2 --max-len 9 --emb 8
  // --hidden 16 --maxout 4 --steps 30`; its reference loss: `cho.py --data pairs.tsv --load ...`.
  const LoadedModel m = load_model(kDir + "seqgrad_trained.safetensors");
  CHECK(m.model == "cho");
  CHECK(m.step == 30);
  std::ifstream expected_file(kDir + "seqgrad_trained_reference_loss.json");
  const auto expected = nlohmann::json::parse(expected_file);
  const EvalResult r = evaluate(*m.net, read_tsv(kDir + "pairs.tsv"), m.src_vocab, m.tgt_vocab);
  CHECK(r.tokens == expected["tokens"].get<std::int64_t>());
  CHECK(r.loss == doctest::Approx(expected["loss"].get<double>()).epsilon(1e-4));
}
