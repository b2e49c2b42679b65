// Loading checkpoints: metadata that is missing, malformed or names another model is an error
// naming the file.
#include <doctest/doctest.h>

#include "models/seq2seq_io.h"
#include "nn/checkpoint.h"
#include "temp_file.h"

using namespace seqgrad;
using namespace seqgrad::models;

TEST_CASE("load_model: a checkpoint that is not a known model gives a clear error") {
  const std::string path = (seqgrad::testing::temp_folder() / "meta.safetensors").string();
  nn::save_safetensors(path, {{"x", zeros({2})}},
                       {{"format", "seqgrad-checkpoint"}, {"model", "no-such-model"}});
  CHECK_THROWS_WITH_AS(load_model(path), doctest::Contains("unknown model 'no-such-model'"), Error);
  nn::save_safetensors(path, {{"x", zeros({2})}}, {{"format", "other"}});
  CHECK_THROWS_WITH_AS(load_model(path), doctest::Contains("not a seqgrad checkpoint"), Error);
  nn::save_safetensors(path, {{"x", zeros({2})}},
                       {{"format", "seqgrad-checkpoint"},
                        {"model", "cho"},
                        {"config", R"({"emb": 4, "hidden": 4, "maxout": 2})"},
                        {"src_vocab", R"(["<pad>", "<s>", "</s>", "<unk>", "a"])"},
                        {"tgt_vocab", "not json"}});
  CHECK_THROWS_WITH_AS(load_model(path), doctest::Contains("tgt_vocab"), Error);
  nn::save_safetensors(path, {{"x", zeros({2})}},
                       {{"format", "seqgrad-checkpoint"},
                        {"model", "cho"},
                        {"config", R"({"emb": 4, "hidden": 4, "maxout": 2})"},
                        {"src_vocab", R"(["<pad>", "<s>", "</s>", "<unk>", "a"])"},
                        {"tgt_vocab", R"(["<pad>", "<s>", "</s>", "<unk>", "a"])"}});
  CHECK_THROWS_WITH_AS(load_model(path), doctest::Contains("meta.safetensors"), Error);
}
