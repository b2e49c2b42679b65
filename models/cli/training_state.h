// What `seqgrad train --resume` needs to continue a run exactly where it stopped: the parameters,
// the optimiser state, the RNG state and the progress counters, all in ONE file
// (OUT/last.state.safetensors). nn::save writes it to a temporary file and renames it into place,
// so a crash at any moment (SIGKILL included) leaves either the previous state or the new one,
// never a mix of two steps. OUT/last.safetensors and OUT/best.safetensors (parameters with the
// reference scripts' metadata) are for evaluation; resuming never reads them.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "nn/checkpoint.h"
#include "nn/module.h"
#include "optim/optimizer.h"

namespace seqgrad::cli {

struct TrainingProgress {
  std::int64_t step = 0;
  double seconds = 0;       // training time so far, evaluation excluded
  std::int64_t tokens = 0;  // target tokens trained on so far
  double best = -1;         // best dev sequence accuracy so far (-1: none yet)
};

// `config` is the model configuration JSON; loading checks it against the command's.
void save_training_state(const std::filesystem::path& file, const nn::Module& model,
                         const optim::Optimizer& opt, const Generator& gen,
                         const TrainingProgress& progress, const std::string& config);

// Restores model, optimiser and generator from `file` and returns the progress. Throws Error
// when the file is missing or corrupt, or was written for another model configuration or
// optimiser (the command then stops; the model may be half loaded).
TrainingProgress load_training_state(const std::filesystem::path& file, nn::Module& model,
                                     optim::Optimizer& opt, Generator& gen,
                                     const std::string& config);

// What `seqgrad info` shows of a training state; nullopt when the file is a safetensors file of
// another kind (a checkpoint). Throws Error when it is a training state that cannot be read.
struct TrainingStateSummary {
  TrainingProgress progress;
  std::string optimizer, config;
  std::int64_t parameter_tensors = 0, parameters = 0, optimizer_tensors = 0;
};
std::optional<TrainingStateSummary> summarize_training_state(const nn::SafetensorsFile& file,
                                                             const std::string& path);

}  // namespace seqgrad::cli
