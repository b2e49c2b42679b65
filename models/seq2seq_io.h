// Reading the inputs of the encoder-decoder commands: TSV pair files (errors name the file and
// line) and checkpoints written by `seqgrad train` or by the reference scripts' --export.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/seq2seq_batch.h"
#include "models/encoder_decoder.h"
#include "models/registry.h"
#include "nn/checkpoint.h"

namespace seqgrad::models {

// A model restored from a checkpoint, with what its metadata says about it.
struct LoadedModel {
  std::string model;        // the registered name (models/registry.h)
  std::string config_json;  // the "config" metadata entry
  data::Vocab src_vocab, tgt_vocab;
  std::shared_ptr<EncoderDecoder> net;
  std::int64_t step = 0;  // training steps, when the checkpoint says
};

// Validates the metadata (format, model, config, vocabularies) and the tensors before building
// the model; any problem is an Error naming the file.
LoadedModel load_model(const std::string& path);
// The same for a file already read (`path` names it in errors).
LoadedModel load_model(const nn::SafetensorsFile& file, const std::string& path);

// Decodings of `sources` (greedy, or beam search when beam > 1) (one string per source, tokens
// joined as the vocabulary's tokenisation implies), stopping at EOS or after max_len tokens.
std::vector<std::string> greedy_decode(EncoderDecoder& model,
                                       const std::vector<std::string>& sources,
                                       const data::Vocab& src_vocab, const data::Vocab& tgt_vocab,
                                       std::int64_t max_len,
                                       data::Tokens src_tokens = data::Tokens::Char,
                                       data::Tokens tgt_tokens = data::Tokens::Char,
                                       std::int64_t beam = 1);

}  // namespace seqgrad::models
