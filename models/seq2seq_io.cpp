#include "models/seq2seq_io.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/registry.h"
#include "nn/checkpoint.h"

namespace seqgrad::models {

namespace {

const std::string& meta(const std::map<std::string, std::string>& m, const std::string& key,
                        const std::string& path) {
  const auto it = m.find(key);
  check(it != m.end(), "{}: checkpoint metadata has no '{}' entry", path, key);
  return it->second;
}

std::vector<std::string> json_tokens(const std::string& text, const std::string& what,
                                     const std::string& path) {
  try {
    return nlohmann::json::parse(text).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    fail("{}: metadata '{}' is not a JSON array of strings", path, what);
  }
}

}  // namespace

LoadedModel load_model(const std::string& path) {
  return load_model(nn::load_safetensors(path), path);
}

LoadedModel load_model(const nn::SafetensorsFile& file, const std::string& path) {
  LoadedModel out;
  check(meta(file.metadata, "format", path) == "seqgrad-checkpoint",
        "{}: not a seqgrad checkpoint (format '{}')", path, meta(file.metadata, "format", path));
  out.model = meta(file.metadata, "model", path);
  try {
    (void)find_model(out.model);
  } catch (const Error& e) {
    fail("{}: {}", path, e.what());
  }
  out.config_json = meta(file.metadata, "config", path);
  out.src_vocab =
      data::Vocab(json_tokens(meta(file.metadata, "src_vocab", path), "src_vocab", path));
  out.tgt_vocab =
      data::Vocab(json_tokens(meta(file.metadata, "tgt_vocab", path), "tgt_vocab", path));
  if (const auto it = file.metadata.find("step"); it != file.metadata.end())
    out.step = std::stoll(it->second);
  try {
    out.net = make_model(out.model, out.config_json, out.src_vocab.size(), out.tgt_vocab.size());
    out.net->load_state_dict(file.tensors);
  } catch (const Error& e) {
    fail("{}: {}", path, e.what());
  }
  return out;
}

std::vector<std::string> greedy_decode(EncoderDecoder& model,
                                       const std::vector<std::string>& sources,
                                       const data::Vocab& sv, const data::Vocab& tv,
                                       std::int64_t max_len, data::Tokens src_tokens,
                                       data::Tokens tgt_tokens, std::int64_t beam) {
  std::vector<data::Pair> pairs;
  for (const std::string& s : sources) pairs.push_back({s, ""});
  const data::Batch b = data::make_batch(pairs, sv, tv, src_tokens, tgt_tokens);
  std::vector<std::string> decoded;
  for (const auto& ids : decode(model, b.src, b.src_len, max_len, beam)) {
    std::vector<std::string> tokens;
    for (const std::int64_t id : ids) tokens.push_back(tv.token(id));
    decoded.push_back(data::detokenize(tokens, tgt_tokens));
  }
  return decoded;
}

}  // namespace seqgrad::models
