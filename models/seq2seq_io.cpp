#include "models/seq2seq_io.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/attention.h"
#include "models/cho.h"
#include "models/seq2seq.h"
#include "nn/checkpoint.h"

namespace seqgrad::models {

std::vector<Pair> read_tsv(const std::string& path) {
  std::ifstream in(path);
  check(in.good(), "{}: cannot open the file", path);
  std::vector<Pair> pairs;
  std::int64_t lineno = 0;
  for (std::string line; std::getline(in, line);) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto tab = line.find('\t');
    check(tab != std::string::npos && line.find('\t', tab + 1) == std::string::npos,
          "{}:{}: expected source<TAB>target, got '{}'", path, lineno,
          line.size() > 60 ? line.substr(0, 60) + "..." : line);
    pairs.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  check(!in.bad(), "{}: read error after line {}", path, lineno);
  check(!pairs.empty(), "{}: no source<TAB>target pairs in the file", path);
  return pairs;
}

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

std::shared_ptr<EncoderDecoder> make_model(const std::string& model, const std::string& config_json,
                                           std::int64_t src_vocab, std::int64_t tgt_vocab,
                                           Generator* gen) {
  check(model == "cho" || model == "seq2seq" || model == "attention",
        "unknown model '{}' (known: cho, seq2seq, attention)", model);
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(config_json);
  } catch (const nlohmann::json::exception& e) {
    fail("model config is not JSON: {}", e.what());
  }
  auto size = [&](const char* key) {
    check(config.contains(key) && config[key].is_number_integer(),
          "model config {} needs an integer '{}'", config_json, key);
    const auto v = config[key].get<std::int64_t>();
    check(v > 0 && v <= 65536, "model config: '{}' = {} is out of range [1, 65536]", key, v);
    return v;
  };
  const double dropout = config.value("dropout", 0.0);
  if (model == "attention")
    return std::make_shared<Attention>(AttentionConfig{src_vocab, tgt_vocab, size("emb"),
                                                       size("hidden"), size("attention"), dropout},
                                       gen);
  if (model == "cho")
    return std::make_shared<Cho>(
        ChoConfig{src_vocab, tgt_vocab, size("emb"), size("hidden"), size("maxout"), dropout}, gen);
  Seq2SeqConfig c{src_vocab, tgt_vocab};
  check(config.contains("cell") && config["cell"].is_string(), "model config {} needs a 'cell'",
        config_json);
  c.cell = config["cell"].get<std::string>();
  c.emb = size("emb");
  c.hidden = size("hidden");
  c.layers = size("layers");
  c.reverse_source = config.value("reverse_source", false);
  c.dropout = dropout;
  return std::make_shared<Seq2Seq>(c, gen);
}

LoadedModel load_model(const std::string& path) {
  return load_model(nn::load_safetensors(path), path);
}

LoadedModel load_model(const nn::SafetensorsFile& file, const std::string& path) {
  LoadedModel out;
  check(meta(file.metadata, "format", path) == "seqgrad-checkpoint",
        "{}: not a seqgrad checkpoint (format '{}')", path, meta(file.metadata, "format", path));
  out.model = meta(file.metadata, "model", path);
  check(out.model == "cho" || out.model == "seq2seq" || out.model == "attention",
        "{}: unknown model '{}' (known: cho, seq2seq, attention)", path, out.model);
  out.config_json = meta(file.metadata, "config", path);
  out.src_vocab = Vocab(json_tokens(meta(file.metadata, "src_vocab", path), "src_vocab", path));
  out.tgt_vocab = Vocab(json_tokens(meta(file.metadata, "tgt_vocab", path), "tgt_vocab", path));
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
                                       const std::vector<std::string>& sources, const Vocab& sv,
                                       const Vocab& tv, std::int64_t max_len, Tokens src_tokens,
                                       Tokens tgt_tokens, std::int64_t beam) {
  std::vector<Pair> pairs;
  for (const std::string& s : sources) pairs.push_back({s, ""});
  const Batch b = make_batch(pairs, sv, tv, src_tokens, tgt_tokens);
  const char* separator = tgt_tokens == Tokens::Space ? " " : "";
  std::vector<std::string> decoded;
  for (const auto& ids : decode(model, b.src, b.src_len, max_len, beam)) {
    std::string text;
    for (const std::int64_t id : ids) {
      if (!text.empty()) text += separator;
      text += tv.token(id);
    }
    decoded.push_back(std::move(text));
  }
  return decoded;
}

std::int64_t edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::int64_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<std::int64_t>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::int64_t diagonal = row[0];
    row[0] = static_cast<std::int64_t>(i);
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::int64_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace seqgrad::models
