// The options of every registered model on one command line: --emb, --hidden, --cell, ... Each
// key is added once (the union over the models, models/registry.h), and config_for() checks that
// every option given applies to the chosen model, so a model adds options without touching the
// command line's code.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace seqgrad::cli {

class ModelOptions {
 public:
  // Adds --key for every option of every registered model (underscores become dashes).
  void add_to(CLI::App& cmd);
  // The model's complete config: its defaults, overridden by the options given. Throws Error
  // when an option given is not one of the model's or its value is out of range.
  nlohmann::json config_for(const std::string& model) const;

 private:
  std::map<std::string, std::string> values_;  // by key, as typed
  std::map<std::string, bool> flags_;          // boolean keys
  std::map<std::string, const CLI::Option*> options_;
};

}  // namespace seqgrad::cli
