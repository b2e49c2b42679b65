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
  const std::string name = spec.name;
  registry().emplace(name, std::move(spec));
}

const ModelSpec& find_model(const std::string& name) {
  const auto it = registry().find(name);
  check(it != registry().end(), "unknown model '{}' (known: {})", name,
        fmt::join(model_names(), ", "));
  return it->second;
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& [name, spec] : registry()) names.push_back(name);
  return names;
}

}  // namespace seqgrad::models
