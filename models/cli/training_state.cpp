#include "models/cli/training_state.h"

#include <array>
#include <nlohmann/json.hpp>

namespace seqgrad::cli {

void save_training_state(const std::filesystem::path& file, const nn::Module& model,
                         const optim::Optimizer& opt, const Generator& gen,
                         const TrainingProgress& p, const std::string& config) {
  std::map<std::string, Tensor> optimizer_state;
  for (auto& [name, t] : opt.state_dict()) optimizer_state.emplace("optim." + name, t);
  const auto rng = gen.state();
  // 64-bit RNG words as strings: JSON numbers are doubles for many readers.
  const nlohmann::json j = {{"step", p.step},
                            {"seconds", p.seconds},
                            {"tokens", p.tokens},
                            {"best", p.best},
                            {"optimizer", opt.type_name()},
                            {"config", config},
                            {"rng",
                             {std::to_string(rng[0]), std::to_string(rng[1]),
                              std::to_string(rng[2]), std::to_string(rng[3])}}};
  nn::save(model, file.string(), {{"format", "seqgrad-training-state"}, {"state", j.dump()}},
           optimizer_state);
}

namespace {

bool is_training_state(const nn::SafetensorsFile& f) {
  return f.metadata.count("format") && f.metadata.at("format") == "seqgrad-training-state" &&
         f.metadata.count("state");
}

struct ParsedState {
  nlohmann::json json;
  TrainingProgress progress;
  std::array<std::uint64_t, 4> rng{};
};

ParsedState parse_state(const nn::SafetensorsFile& f, const std::string& path, const char* op) {
  ParsedState s;
  try {
    s.json = nlohmann::json::parse(f.metadata.at("state"));
    const nlohmann::json& j = s.json;
    s.progress = {j.at("step").get<std::int64_t>(), j.at("seconds").get<double>(),
                  j.at("tokens").get<std::int64_t>(), j.at("best").get<double>()};
    for (std::size_t i = 0; i < 4; ++i)
      s.rng[i] = std::stoull(j.at("rng").at(i).get<std::string>());
  } catch (const std::exception& e) {
    fail("{}: {}: unreadable training state ({})", op, path, e.what());
  }
  return s;
}

}  // namespace

TrainingProgress load_training_state(const std::filesystem::path& file, nn::Module& model,
                                     optim::Optimizer& opt, Generator& gen,
                                     const std::string& config) {
  const std::string path = file.string();
  check(std::filesystem::exists(file),
        "train --resume: no training state {} (was this folder written by `seqgrad train`?)", path);
  const nn::SafetensorsFile f = nn::load_safetensors(path);
  check(is_training_state(f), "train --resume: {} is not a seqgrad training state", path);
  const ParsedState parsed = parse_state(f, path, "train --resume");
  const nlohmann::json& j = parsed.json;
  check(j.value("config", "") == config,
        "train --resume: {} was trained with config {}, this command gives {}", path,
        j.value("config", ""), config);
  check(j.value("optimizer", "") == opt.type_name(),
        "train --resume: the run used {}, this command {}", j.value("optimizer", ""),
        opt.type_name());
  std::map<std::string, Tensor> extra;
  nn::load(model, path, &extra);
  std::map<std::string, Tensor> optimizer_state;
  for (const auto& [name, t] : extra) {
    check(name.rfind("optim.", 0) == 0, "train --resume: {}: unexpected tensor '{}'", path, name);
    optimizer_state.emplace(name.substr(6), t);
  }
  opt.load_state_dict(optimizer_state);
  gen.set_state(parsed.rng);
  return parsed.progress;
}

std::optional<TrainingStateSummary> summarize_training_state(const nn::SafetensorsFile& f,
                                                             const std::string& path) {
  if (!is_training_state(f)) return std::nullopt;
  const ParsedState parsed = parse_state(f, path, "info");
  TrainingStateSummary s{parsed.progress, parsed.json.value("optimizer", ""),
                         parsed.json.value("config", "")};
  for (const auto& [name, t] : f.tensors) {
    if (name.rfind("optim.", 0) == 0) {
      ++s.optimizer_tensors;
    } else {
      ++s.parameter_tensors;
      s.parameters += t.numel();
    }
  }
  return s;
}

}  // namespace seqgrad::cli
