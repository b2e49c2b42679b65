// What a resumed run needs to continue exactly where it stopped: the parameters, the optimiser
// state, the RNG state, the progress counters and the run's options, all in ONE file
// (OUT/last.state.safetensors). nn::save writes it to a temporary file and renames it into place,
// so a crash at any moment (SIGKILL included) leaves either the previous state or the new one,
// never a mix of two steps. OUT/last.safetensors and OUT/best.safetensors (parameters with the
// model's metadata) are for evaluation; resuming never reads them.
#pragma once

#include <array>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "nn/checkpoint.h"
#include "nn/module.h"
#include "optim/optimizer.h"

namespace seqgrad::train {

struct TrainingProgress {
  std::int64_t step = 0;
  double seconds = 0;       // time in training steps so far (the throughput's clock)
  double wall_seconds = 0;  // training and evaluation: what the time limit counts
  std::int64_t items = 0;   // items trained on so far (target tokens, images)
  double best_score = -std::numeric_limits<double>::infinity();  // best evaluation score
  double best_loss = std::numeric_limits<double>::infinity();    // lowest evaluation loss
  std::int64_t evals_since_best_loss = 0;  // evaluations since best_loss fell (early stopping)
};

// A state file as read, before anything is restored from it.
struct TrainingState {
  TrainingProgress progress;
  std::string optimizer;  // the optimiser's type name
  nlohmann::json config;  // the run's options as the trainer was given them
  std::array<std::uint64_t, 4> rng{};
  nn::SafetensorsFile file;
};

void save_training_state(const std::filesystem::path& file, const nn::Module& model,
                         const optim::Optimizer& opt, const Generator& gen,
                         const TrainingProgress& progress, const nlohmann::json& config);

// Reads and checks a state file; throws Error naming it when it is missing, corrupt, or not a
// training state. Nothing is restored.
TrainingState read_training_state(const std::filesystem::path& file);

// Restores model, optimiser and generator. Throws Error when the parameters do not fit the model
// or the optimiser differs from the one that wrote the state (the model may then be restored and
// the optimiser not: a failed resume should end the run).
void restore_training_state(const TrainingState& state, const std::string& path, nn::Module& model,
                            optim::Optimizer& opt, Generator& gen);

// What `seqgrad info` shows of a training state; nullopt when the file is a safetensors file of
// another kind (a checkpoint). Throws Error when it is a training state that cannot be read.
struct TrainingStateSummary {
  TrainingProgress progress;
  std::string optimizer;
  nlohmann::json config;
  std::int64_t parameter_tensors = 0, parameters = 0, optimizer_tensors = 0;
};
std::optional<TrainingStateSummary> summarize_training_state(const nn::SafetensorsFile& file,
                                                             const std::string& path);

}  // namespace seqgrad::train
