// The one training loop of seqgrad. Every program that trains (`seqgrad train`, `seqgrad classify`,
// the benchmarks, the examples, a user's own program) hands the Trainer two functions and lets it
// run the rest:
//
//   next(step, gen) -> BatchLoss   the model's loss on the next training batch (the mean over its
//                                   items, with the item count: target tokens, images)
//   evaluate()      -> Evaluation  held-out loss, a score where higher is better, other metrics
//
// One step is: set the learning rate from the schedule, zero the gradients, backward, clip the
// gradient norm, check loss and norm are finite, optimiser step. Steps come in phases that end
// at multiples of eval_every; after each phase the Trainer evaluates, keeps track of the best
// score and the lowest loss, writes OUT/last.safetensors (and OUT/best.safetensors when the score
// improved), then OUT/last.state.safetensors, the one file a resumed run reads. It stops on the
// first of: max_steps, max_epochs, the time limit (training and evaluation together), patience
// (evaluations without a lower dev loss), the target score, or SIGINT/SIGTERM.
//
//   train::Trainer trainer(model, adam, gen, {.max_steps = 2000, .eval_every = 200, .clip = 5});
//   const train::TrainResult r = trainer.fit(
//       [&](std::int64_t, Generator& g) { const Batch b = next_batch(g);
//                                          return train::BatchLoss{model.loss(b) / b.tokens,
//                                          b.tokens}; },
//       [&] { return train::Evaluation{.loss = dev_loss(model)}; });
#pragma once

#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "train/training_state.h"

namespace seqgrad::train {

// The loss of one training batch, as the caller's code computes it.
struct BatchLoss {
  Variable loss;           // the mean over the batch's items: what backward() runs on
  std::int64_t items = 0;  // how many items the mean is over: weights the reported mean loss
};

// Data-parallel training (Trainer::fit_data_parallel): one part of a batch, and the replica of
// the model that computes its loss.
struct Shard {
  int index = 0;  // 0 .. count-1; shard 0 runs on the model the Trainer was given
  int count = 1;
  nn::Module& model;
  // Item i of a batch goes to shard i mod count, dealt like cards: a batch sorted by length gives
  // every shard the same mix of lengths, and so about the same work.
  template <class T>
  std::vector<T> deal(const std::vector<T>& batch) const {
    std::vector<T> mine;
    for (std::size_t i = static_cast<std::size_t>(index); i < batch.size();
         i += static_cast<std::size_t>(count))
      mine.push_back(batch[i]);
    return mine;
  }
};

// Held-out figures, from the caller's evaluation function.
struct Evaluation {
  double loss = std::numeric_limits<double>::quiet_NaN();  // early stopping watches this
  // Higher is better (accuracy, 1 - WER): it picks best.safetensors and meets stop_at. NaN: the
  // score is -loss.
  double score = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::pair<std::string, double>> metrics = {};  // all figures to log, in order
  double effective_score() const { return std::isnan(score) ? -loss : score; }
};

enum class StopReason { Steps, Epochs, TimeLimit, EarlyStopping, TargetReached, Interrupted };
// "steps", "epochs", "time_limit", "early_stopping", "target_reached", "interrupted"
const char* stop_reason_name(StopReason reason);

enum class NonFinite { Stop, Skip };  // a NaN/Inf loss or gradient norm: stop, or skip the batch

struct TrainerOptions {
  std::int64_t max_steps = 0;        // stop after this many steps in all (0: no limit)
  std::int64_t max_epochs = 0;       // stop after this many epochs (0: no limit)
  std::int64_t steps_per_epoch = 0;  // what an epoch is, for max_epochs and the default cadence
  std::int64_t eval_every = 0;       // steps between evaluations (0: each epoch, else at the end)
  double time_limit = 0;             // seconds of training and evaluation (0: no limit)
  std::int64_t patience = 0;  // stop after this many evaluations without a lower loss (0: off)
  double stop_at = std::numeric_limits<double>::quiet_NaN();  // stop when the score reaches it
  double clip = 0;                                            // gradient-norm clip (0: none)
  NonFinite nonfinite = NonFinite::Stop;
  std::filesystem::path out = {};  // folder for checkpoints and the state; empty: no files
  bool resume = false;             // continue the run in `out` (refused when there is none)
  // The run's options: saved in the state; a resumed run must give the same, except the keys in
  // may_change_on_resume (each change is reported on stderr).
  nlohmann::json config = nlohmann::json::object();
  std::set<std::string> may_change_on_resume = {};
  // Metadata of last.safetensors and best.safetensors ("step" is added).
  std::map<std::string, std::string> checkpoint_metadata = {};
  // SIGINT/SIGTERM end the current step, save the state and return StopReason::Interrupted.
  bool handle_signals = false;
};

// What one call of step() did.
struct StepReport {
  std::int64_t step = 0;  // 1-based: the step just taken
  double loss = 0, grad_norm = 0, lr = 0;
  std::int64_t items = 0;
  bool skipped = false;  // a non-finite loss or norm under NonFinite::Skip: no update
};

// The mean training loss and throughput of one phase (the steps between two evaluations).
struct PhaseReport {
  std::int64_t first_step = 0, last_step = 0;
  double mean_loss = 0, seconds = 0;
  std::int64_t items = 0;
};

struct TrainResult {
  StopReason reason = StopReason::Steps;
  TrainingProgress progress;
  std::optional<Evaluation> last_evaluation;
  double last_phase_loss = std::numeric_limits<double>::quiet_NaN();
};

class Trainer;

// Hooks into the loop: progress output, metric files, sample printing. Each does nothing by
// default; a callback only watches (it must not change the model or the optimiser).
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(const Trainer&) {}
  virtual void on_phase_begin(const Trainer&, std::int64_t /*first_step*/,
                              std::int64_t /*last_step*/) {}
  virtual void on_step_end(const Trainer&, const StepReport&) {}
  virtual void on_phase_end(const Trainer&, const PhaseReport&) {}
  virtual void on_evaluation(const Trainer&, const Evaluation&, bool /*best*/) {}
  virtual void on_train_end(const Trainer&, const TrainResult&) {}
};

class ShardThreads;

class Trainer {
 public:
  using NextLoss = std::function<BatchLoss(std::int64_t step, Generator& gen)>;
  using Evaluate = std::function<Evaluation()>;
  // Data-parallel: draws the step's batch (on the calling thread, from gen) and returns the
  // function that computes one shard's loss on the shard's replica, called once per shard, side
  // by side on the shards' threads.
  using ShardLoss = std::function<BatchLoss(const Shard& shard)>;
  using NextShards = std::function<ShardLoss(std::int64_t step, Generator& gen)>;
  // Makes one more instance of the model (same parameter names and shapes), whose dropout draws
  // from `gen` (a generator the Trainer owns).
  using MakeReplica = std::function<std::shared_ptr<nn::Module>(Generator* gen)>;

  // model, optimizer and gen must outlive the Trainer. gen is the one generator the caller's
  // functions draw from (batches, dropout): it is saved with the state, so a resumed run draws
  // exactly what an uninterrupted one would.
  Trainer(nn::Module& model, optim::Optimizer& optimizer, Generator& gen,
          TrainerOptions options = {});
  ~Trainer();

  // The learning rate before step s (0-based) becomes schedule.lr_at(s): a function of the step
  // alone, so resuming needs no scheduler state.
  void set_schedule(std::shared_ptr<const optim::LRScheduler> schedule);
  void add_callback(std::shared_ptr<Callback> callback);

  // Trains until a stop condition holds (TrainerOptions); see the top of this file.
  TrainResult fit(const NextLoss& next, const Evaluate& evaluate = {});

  // One optimisation step on a loss the caller computed: what fit() runs per batch. Throws Error
  // naming the step on a non-finite loss or gradient norm under NonFinite::Stop.
  StepReport step(const BatchLoss& batch);

  // Data-parallel training on `shards` threads: set_replicas makes shards - 1 replicas of the
  // model with `make` and ties their parameters to the model's storage (one set of weights, a
  // gradient per replica). Each step's batch is then split into that many shards; shard k's
  // forward and backward runs on its own thread and replica (shard 0: the model), with that
  // thread's loops serial; the shards' gradients are summed into the model's, weighted by their
  // items (so the step equals one on the whole batch up to rounding, and is the same for a fixed
  // shard count), and one optimiser step updates the shared weights. Replica k's dropout draws
  // from its own generator, reseeded from gen at every step, so the saved state still resumes
  // exactly. Everything else (schedule, clipping, evaluations, checkpoints, stops) is as in fit().
  void set_replicas(int shards, const MakeReplica& make);
  TrainResult fit_data_parallel(const NextShards& next, const Evaluate& evaluate = {});
  StepReport step_data_parallel(const ShardLoss& shard_loss);

  const TrainingProgress& progress() const { return progress_; }
  const TrainerOptions& options() const { return options_; }
  nn::Module& model() const { return model_; }
  std::int64_t epoch() const;  // 0-based epoch of the next step (0 without steps_per_epoch)
  // The options a resumed run changed (those in may_change_on_resume), in words.
  const std::vector<std::string>& resume_changes() const { return resume_changes_; }

 private:
  std::int64_t total_steps() const;  // the step count that ends training (max: no limit)
  void resume_from_state();
  void write_options() const;  // OUT/options.json: the run's options, readable
  void save(bool best);        // throws Error saying what is still on disk
  std::filesystem::path state_path() const { return options_.out / "last.state.safetensors"; }
  template <class Event>
  void notify(const Event& event) const {
    for (const auto& c : callbacks_) event(*c);
  }

  nn::Module& model_;
  optim::Optimizer& optimizer_;
  Generator& gen_;
  TrainResult run(const std::function<StepReport()>& take_step, const Evaluate& evaluate);
  StepReport finish_step(StepReport r);  // non-finite check, optimiser step, progress

  TrainerOptions options_;
  std::shared_ptr<const optim::LRScheduler> schedule_;
  std::vector<std::shared_ptr<Callback>> callbacks_;
  std::vector<Variable> parameters_;
  struct Replica {
    std::unique_ptr<Generator> gen;  // first: the model may keep a pointer to it
    std::shared_ptr<nn::Module> model;
  };
  std::vector<Replica> replicas_;
  std::vector<std::vector<Variable>> replica_parameters_;
  std::unique_ptr<ShardThreads> shard_threads_;
  TrainingProgress progress_;
  std::int64_t saved_step_ = -1;
  std::vector<std::string> resume_changes_;  // the step of the last complete save (-1: none)
};

}  // namespace seqgrad::train
