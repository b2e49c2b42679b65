#include "cli/model_options.h"

#include <fmt/format.h>

#include <vector>

#include "models/registry.h"

namespace seqgrad::cli {

namespace {

std::string option_name(const std::string& key) {
  std::string name = "--" + key;
  for (char& c : name)
    if (c == '_') c = '-';
  return name;
}

// The value typed for `key`, as the JSON type of the option's default.
nlohmann::json parse_value(const std::string& key, const std::string& text,
                           const nlohmann::json& like) {
  try {
    std::size_t used = 0;
    if (like.is_number_integer()) {
      const std::int64_t v = std::stoll(text, &used);
      if (used == text.size()) return v;
    } else if (like.is_number()) {
      const double v = std::stod(text, &used);
      if (used == text.size()) return v;
    } else {
      return text;
    }
  } catch (const std::exception&) {
  }
  fail("{}: expected {}, got '{}'", option_name(key),
       like.is_number_integer() ? "an integer" : "a number", text);
}

}  // namespace

void ModelOptions::add_to(CLI::App& cmd) {
  struct Union {
    models::ConfigOption option;
    std::vector<std::string> models;
    std::vector<std::string> defaults;
  };
  std::map<std::string, Union> keys;
  for (const std::string& name : models::model_names()) {
    for (const models::ConfigOption& option : models::find_model(name).options) {
      Union& u = keys.try_emplace(option.key, Union{option, {}, {}}).first->second;
      u.models.push_back(name);
      u.defaults.push_back(option.default_value.dump());
    }
  }
  for (const auto& [key, u] : keys) {
    const bool same_default = std::all_of(u.defaults.begin(), u.defaults.end(),
                                          [&](auto& d) { return d == u.defaults[0]; });
    const std::string help =
        fmt::format("{} ({}; default {})", u.option.help, fmt::join(u.models, ", "),
                    same_default ? u.defaults[0] : "per model");
    if (u.option.default_value.is_boolean())
      options_[key] = cmd.add_flag(option_name(key), flags_[key], help);
    else
      options_[key] = cmd.add_option(option_name(key), values_[key], help);
  }
}

nlohmann::json ModelOptions::config_for(const std::string& model) const {
  const models::ModelSpec& spec = models::find_model(model);
  nlohmann::json config = nlohmann::json::object();
  std::vector<std::string> own;
  for (const models::ConfigOption& option : spec.options) {
    config[option.key] = option.default_value;
    own.push_back(option_name(option.key));
  }
  for (const auto& [key, option] : options_) {
    if (option->count() == 0) continue;
    check(config.contains(key), "{} does not apply to --model {} (its options: {})",
          option_name(key), model, fmt::join(own, " "));
    config[key] = config[key].is_boolean() ? nlohmann::json(flags_.at(key))
                                           : parse_value(key, values_.at(key), config[key]);
  }
  return spec.complete(config);
}

}  // namespace seqgrad::cli
