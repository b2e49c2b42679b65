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

TEST_CASE("load_model: a Transformer's checkpoint named as another model, and the reverse") {
  const std::string path = (seqgrad::testing::temp_folder() / "swapped.safetensors").string();
  const std::string vocab = R"(["<pad>", "<s>", "</s>", "<unk>", "a", "b"])";
  const std::string transformer_config =
      R"({"d_model": 8, "heads": 2, "layers": 1, "ffn": 16, "norm_first": true})";
  const auto transformer = make_model("transformer", transformer_config, 6, 6);
  // The Transformer's tensors and config under the name "attention": the config is refused.
  nn::save_safetensors(path, transformer->state_dict(),
                       {{"format", "seqgrad-checkpoint"},
                        {"model", "attention"},
                        {"config", transformer_config},
                        {"src_vocab", vocab},
                        {"tgt_vocab", vocab}});
  CHECK_THROWS_WITH_AS(load_model(path), doctest::Contains("swapped.safetensors"), Error);
  CHECK_THROWS_WITH_AS(load_model(path), doctest::Contains("d_model"), Error);
  // A cho model's tensors with a Transformer's metadata: the tensors do not match.
  const auto cho = make_model("cho", R"({"emb": 4, "hidden": 4, "maxout": 2})", 6, 6);
  nn::save_safetensors(path, cho->state_dict(),
                       {{"format", "seqgrad-checkpoint"},
                        {"model", "transformer"},
                        {"config", transformer_config},
                        {"src_vocab", vocab},
                        {"tgt_vocab", vocab}});
  CHECK_THROWS_WITH_AS(load_model(path), doctest::Contains("swapped.safetensors"), Error);
}
