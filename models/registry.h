// Models by name. Each model file declares its config (the options it takes: JSON key, help,
// default, range) and registers itself with one static object:
//
//   const RegisterModel<Cho, ChoConfig> registration(
//       "cho", "the RNN Encoder-Decoder of Cho et al. (2014)",
//       ConfigFields<ChoConfig>()
//           .add("emb", &ChoConfig::emb, "Embedding size", 1, 65536)
//           .add("hidden", &ChoConfig::hidden, "Hidden state size", 1, 65536));
//
// The command line turns each option into --key (the union over all models, each checked
// against the chosen model), checkpoints store the config as JSON under the same keys, and
// make_model / load_model find the model by the name in the checkpoint. Nothing outside a model's
// own file names it.
//
// Registration runs when the program starts, from a static object in the model's file. Nothing
// else refers to that file's objects, so programs link the models library whole (CMake target
// seqgrad_models_all); a plugin (seqgrad --plugin FILE.so) registers when it is loaded.
#pragma once

#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "models/encoder_decoder.h"

namespace seqgrad::models {

// One config option as the registry sees it, whatever the model's config type.
struct ConfigOption {
  std::string key, help;
  nlohmann::json default_value;  // its JSON type is the option's type
  bool required = true;          // a stored config must give it (else the default applies)
};

struct ModelSpec {
  std::string name, summary;
  bool is_default = false;  // what `seqgrad train` trains without --model
  std::vector<ConfigOption> options;
  // Checks `config` (types and ranges of the model's keys; other keys are ignored, missing
  // optional keys take their defaults) and returns it complete: every option present.
  std::function<nlohmann::json(const nlohmann::json& config)> complete;
  // A freshly initialised model from a complete config and the vocabulary sizes.
  std::function<std::shared_ptr<EncoderDecoder>(
      const nlohmann::json& config, std::int64_t src_vocab, std::int64_t tgt_vocab, Generator* gen)>
      make;
};

// Throws Error when the name is empty or taken.
void register_model(ModelSpec spec);
// Throws Error listing the registered names when `name` is not one of them.
const ModelSpec& find_model(const std::string& name);
std::vector<std::string> model_names();  // sorted
// The model registered as the default (the CLI's --model without a value); throws when none is.
const std::string& default_model();

// Builds a freshly initialised model from its registered name and config JSON (the checkpoint's
// "config"; keys the model does not take are ignored).
std::shared_ptr<EncoderDecoder> make_model(const std::string& model, const std::string& config_json,
                                           std::int64_t src_vocab, std::int64_t tgt_vocab,
                                           Generator* gen = nullptr);

// The typed side: the fields of a model's config struct, by member pointer.
template <class Config>
class ConfigFields {
 public:
  // An integer or floating-point field within [min, max], a flag, or a string (any value; the
  // model checks it).
  template <class T>
  ConfigFields& add(std::string key, T Config::*member, std::string help,
                    double min = -std::numeric_limits<double>::infinity(),
                    double max = std::numeric_limits<double>::infinity()) {
    fields_.push_back({std::move(key), std::move(help), member, min, max, true});
    return *this;
  }
  ConfigFields& optional() {  // marks the last field added as optional in stored configs
    fields_.back().required = false;
    return *this;
  }

  nlohmann::json to_json(const Config& c) const {
    nlohmann::json j = nlohmann::json::object();
    for (const Field& f : fields_) std::visit([&](auto member) { j[f.key] = c.*member; }, f.member);
    return j;
  }

  // Reads the fields from `j`; `what` names the config in errors.
  Config from_json(const nlohmann::json& j, const std::string& what) const {
    check(j.is_object(), "{}: the config must be a JSON object, got {}", what, j.dump());
    Config c;
    for (const Field& f : fields_) {
      if (!j.contains(f.key)) {
        check(!f.required, "{}: the config {} has no '{}'", what, j.dump(), f.key);
        continue;
      }
      std::visit([&](auto member) { read(j[f.key], f, c.*member, what); }, f.member);
    }
    return c;
  }

  std::vector<ConfigOption> options() const {
    const nlohmann::json defaults = to_json(Config{});
    std::vector<ConfigOption> out;
    for (const Field& f : fields_) out.push_back({f.key, f.help, defaults[f.key], f.required});
    return out;
  }

 private:
  struct Field {
    std::string key, help;
    std::variant<std::int64_t Config::*, double Config::*, bool Config::*, std::string Config::*>
        member;
    double min, max;
    bool required;
  };

  static void read(const nlohmann::json& v, const Field& f, std::int64_t& out,
                   const std::string& what) {
    check(v.is_number_integer(), "{}: '{}' must be an integer, got {}", what, f.key, v.dump());
    out = v.get<std::int64_t>();
    check(static_cast<double>(out) >= f.min && static_cast<double>(out) <= f.max,
          "{}: '{}' = {} is out of range [{}, {}]", what, f.key, out, f.min, f.max);
  }
  static void read(const nlohmann::json& v, const Field& f, double& out, const std::string& what) {
    check(v.is_number(), "{}: '{}' must be a number, got {}", what, f.key, v.dump());
    out = v.get<double>();
    check(out >= f.min && out <= f.max, "{}: '{}' = {} is out of range [{}, {}]", what, f.key, out,
          f.min, f.max);
  }
  static void read(const nlohmann::json& v, const Field& f, bool& out, const std::string& what) {
    check(v.is_boolean(), "{}: '{}' must be true or false, got {}", what, f.key, v.dump());
    out = v.get<bool>();
  }
  static void read(const nlohmann::json& v, const Field& f, std::string& out,
                   const std::string& what) {
    check(v.is_string(), "{}: '{}' must be a string, got {}", what, f.key, v.dump());
    out = v.get<std::string>();
  }

  std::vector<Field> fields_;
};

// Registers Model (constructed as Model(config, gen)) under `name`. Config must have src_vocab and
// tgt_vocab members, which make() sets from the data.
template <class Model, class Config>
struct RegisterModel {
  RegisterModel(std::string name, std::string summary, ConfigFields<Config> fields,
                bool is_default = false) {
    const std::string label = "model '" + name + "'";
    register_model(
        {name, std::move(summary), is_default, fields.options(),
         [fields, label](const nlohmann::json& j) {
           return fields.to_json(fields.from_json(j, label));
         },
         [fields, label](const nlohmann::json& j, std::int64_t src_vocab, std::int64_t tgt_vocab,
                         Generator* gen) -> std::shared_ptr<EncoderDecoder> {
           Config c = fields.from_json(j, label);
           c.src_vocab = src_vocab;
           c.tgt_vocab = tgt_vocab;
           return std::make_shared<Model>(c, gen);
         }});
  }
};

}  // namespace seqgrad::models
