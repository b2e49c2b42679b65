#include "models/registry.h"

#include <fmt/format.h>

#include <map>

namespace seqgrad::models {

namespace {
// Function-local, so it exists before the first static registration object runs.
std::map<std::string, ModelSpec>& registry() {
  static std::map<std::string, ModelSpec> models;
  return models;
}
}  // namespace

void register_model(ModelSpec spec) {
  check(!spec.name.empty() && spec.make && spec.complete,
        "register_model: need a name, a config check and a factory");
  check(!registry().count(spec.name), "register_model: a model named '{}' is already registered",
        spec.name);
  for (const auto& [name, other] : registry())
    check(!(spec.is_default && other.is_default),
          "register_model: '{}' and '{}' both claim to be the default model", name, spec.name);
  const std::string name = spec.name;
  registry().emplace(name, std::move(spec));
}

const ModelSpec& find_model(const std::string& name) {
  const auto it = registry().find(name);
  check(it != registry().end(), "unknown model '{}' (known: {})", name,
        fmt::join(model_names(), ", "));
  return it->second;
}

const std::string& default_model() {
  for (const auto& [name, spec] : registry())
    if (spec.is_default) return spec.name;
  fail("no model is registered as the default");
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& [name, spec] : registry()) names.push_back(name);
  return names;
}

std::shared_ptr<EncoderDecoder> make_model(const std::string& model, const std::string& config_json,
                                           std::int64_t src_vocab, std::int64_t tgt_vocab,
                                           Generator* gen) {
  const ModelSpec& spec = find_model(model);
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(config_json);
  } catch (const nlohmann::json::exception& e) {
    fail("model config is not JSON: {}", e.what());
  }
  return spec.make(spec.complete(config), src_vocab, tgt_vocab, gen);
}

}  // namespace seqgrad::models
