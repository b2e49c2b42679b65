#include "train/training_state.h"

#include <cmath>

namespace seqgrad::train {

namespace {

constexpr const char* kFormat = "seqgrad-training-state";

bool is_training_state(const nn::SafetensorsFile& f) {
  return f.metadata.count("format") && f.metadata.at("format") == kFormat &&
         f.metadata.count("state");
}

// JSON has no infinity: "no best yet" is stored as null.
nlohmann::json finite_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}
double value_or(const nlohmann::json& j, const char* key, double fallback) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : fallback;
}

// Fills everything but `file`. Throws Error naming `path` when the JSON is unreadable.
void parse_state(const nn::SafetensorsFile& f, const std::string& path, TrainingState& s) {
  try {
    const nlohmann::json j = nlohmann::json::parse(f.metadata.at("state"));
    TrainingProgress& p = s.progress;
    p.step = j.at("step").get<std::int64_t>();
    p.seconds = j.at("seconds").get<double>();
    p.wall_seconds = value_or(j, "wall_seconds", p.seconds);
    p.items = j.at("items").get<std::int64_t>();
    p.best_score = value_or(j, "best_score", p.best_score);
    p.best_loss = value_or(j, "best_loss", p.best_loss);
    p.evals_since_best_loss = j.value("evals_since_best_loss", std::int64_t{0});
    s.optimizer = j.at("optimizer").get<std::string>();
    s.config = j.at("config");
    for (std::size_t i = 0; i < 4; ++i)
      s.rng[i] = std::stoull(j.at("rng").at(i).get<std::string>());
  } catch (const std::exception& e) {
    fail("{}: unreadable training state ({})", path, e.what());
  }
}

}  // namespace

void save_training_state(const std::filesystem::path& file, const nn::Module& model,
                         const optim::Optimizer& opt, const Generator& gen,
                         const TrainingProgress& p, const nlohmann::json& config) {
  std::map<std::string, Tensor> optimizer_state;
  for (auto& [name, t] : opt.state_dict()) optimizer_state.emplace("optim." + name, t);
  const auto rng = gen.state();
  // 64-bit RNG words as strings: JSON numbers are doubles for many readers.
  const nlohmann::json j = {{"step", p.step},
                            {"seconds", p.seconds},
                            {"wall_seconds", p.wall_seconds},
                            {"items", p.items},
                            {"best_score", finite_or_null(p.best_score)},
                            {"best_loss", finite_or_null(p.best_loss)},
                            {"evals_since_best_loss", p.evals_since_best_loss},
                            {"optimizer", opt.type_name()},
                            {"config", config},
                            {"rng",
                             {std::to_string(rng[0]), std::to_string(rng[1]),
                              std::to_string(rng[2]), std::to_string(rng[3])}}};
  nn::save(model, file.string(), {{"format", kFormat}, {"state", j.dump()}}, optimizer_state);
}

TrainingState read_training_state(const std::filesystem::path& file) {
  const std::string path = file.string();
  check(std::filesystem::exists(file),
        "resume: no training state {} (was this folder written by `seqgrad train`?)", path);
  TrainingState s;
  s.file = nn::load_safetensors(path);
  check(is_training_state(s.file), "resume: {} is not a seqgrad training state", path);
  parse_state(s.file, path, s);
  return s;
}

void restore_training_state(const TrainingState& s, const std::string& path, nn::Module& model,
                            optim::Optimizer& opt, Generator& gen) {
  check(s.optimizer == opt.type_name(), "resume: the run in {} used {}, this one uses {}", path,
        s.optimizer, opt.type_name());
  std::map<std::string, Tensor> parameters, optimizer_state;
  for (const auto& [name, t] : s.file.tensors) {
    if (name.rfind("optim.", 0) == 0)
      optimizer_state.emplace(name.substr(6), t);
    else
      parameters.emplace(name, t);
  }
  try {
    model.load_state_dict(parameters, /*strict=*/true);  // checks everything before copying
  } catch (const Error& e) {
    fail("resume: {} does not fit the {}: {}", path, model.type_name(), e.what());
  }
  opt.load_state_dict(optimizer_state);
  gen.set_state(s.rng);
}

std::optional<TrainingStateSummary> summarize_training_state(const nn::SafetensorsFile& f,
                                                             const std::string& path) {
  if (!is_training_state(f)) return std::nullopt;
  TrainingState parsed;
  parse_state(f, path, parsed);
  TrainingStateSummary s{parsed.progress, parsed.optimizer, parsed.config};
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

}  // namespace seqgrad::train
