// The Trainer's standard callbacks: progress on stderr, and the metric files of a run folder.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "train/progress.h"
#include "train/trainer.h"

namespace seqgrad::train {

// On stderr: a progress bar per phase (on a terminal; elsewhere a line every `log_every` steps and
// one at the end of the phase), a line per evaluation ("step 200: dev loss 0.1234,
// sequence_accuracy 0.8710") and one saying why training stopped. `unit` names the items ("tok",
// "img"). Quiet: nothing.
class ProgressLog : public Callback {
 public:
  explicit ProgressLog(std::string unit, std::int64_t log_every = 0, bool quiet = false)
      : unit_(std::move(unit)), log_every_(log_every), quiet_(quiet) {}
  void on_train_end(const Trainer& t, const TrainResult& r) override;
  void on_train_begin(const Trainer& t) override;
  void on_phase_begin(const Trainer&, std::int64_t first_step, std::int64_t last_step) override;
  void on_step_end(const Trainer&, const StepReport& r) override;
  void on_phase_end(const Trainer&, const PhaseReport& r) override;
  void on_evaluation(const Trainer& t, const Evaluation& e, bool best) override;

 private:
  std::string unit_;
  std::int64_t log_every_;
  bool quiet_;
  std::unique_ptr<Progress> bar_;
  std::int64_t first_step_ = 1;
  double weighted_loss_ = 0;
  std::int64_t items_ = 0;
};

// OUT/metrics.csv and OUT/metrics.jsonl, one row per evaluation: step, train_seconds, train_loss
// (the phase's mean), train_<unit>_per_s (over the whole run), dev_loss, then dev_<name> for each
// metric. On resume, rows after the restored step (a run killed in between) are dropped; both
// files are rewritten whole and renamed, so a crash cannot lose the rows already logged.
class MetricsLog : public Callback {
 public:
  MetricsLog(std::filesystem::path out, std::string unit)
      : out_(std::move(out)), unit_(std::move(unit)) {}
  void on_train_begin(const Trainer& t) override;
  void on_phase_end(const Trainer&, const PhaseReport& r) override { last_phase_ = r; }
  void on_evaluation(const Trainer& t, const Evaluation& e, bool best) override;

 private:
  std::filesystem::path out_;
  std::string unit_;
  PhaseReport last_phase_;
  bool header_written_ = false;
};

// Why training stopped, in words: "reached max_steps (2000)", "early stopping: no lower dev loss
// in 3 evaluations", ...
std::string describe_stop(const Trainer& t, const TrainResult& r);

// Calls `f` once training starts (after a resumed run's state was read and checked).
class AtTrainBegin : public Callback {
 public:
  explicit AtTrainBegin(std::function<void(const Trainer&)> f) : f_(std::move(f)) {}
  void on_train_begin(const Trainer& t) override { f_(t); }

 private:
  std::function<void(const Trainer&)> f_;
};

// Calls `f` once training has stopped: samples of the model's output, say.
class AtTrainEnd : public Callback {
 public:
  explicit AtTrainEnd(std::function<void(const TrainResult&)> f) : f_(std::move(f)) {}
  void on_train_end(const Trainer&, const TrainResult& r) override { f_(r); }

 private:
  std::function<void(const TrainResult&)> f_;
};

}  // namespace seqgrad::train
