#include "train/trainer.h"

#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>

#include "optim/clip.h"
#include "tensor/parallel.h"
#include "train/shard_threads.h"

namespace seqgrad::train {

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::Steps:
      return "steps";
    case StopReason::Epochs:
      return "epochs";
    case StopReason::TimeLimit:
      return "time_limit";
    case StopReason::EarlyStopping:
      return "early_stopping";
    case StopReason::TargetReached:
      return "target_reached";
    case StopReason::Interrupted:
      return "interrupted";
  }
  return "unknown";
}

namespace {

// Set by SIGINT/SIGTERM while fit() runs with handle_signals; checked after every step.
volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_interrupt(int) { interrupted = 1; }

// Installs the handlers for the lifetime of one fit() and puts the previous ones back.
class SignalScope {
 public:
  explicit SignalScope(bool active) : active_(active) {
    if (!active_) return;
    interrupted = 0;
    old_int_ = std::signal(SIGINT, on_interrupt);
    old_term_ = std::signal(SIGTERM, on_interrupt);
  }
  ~SignalScope() {
    if (!active_) return;
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;
  bool fired() const { return active_ && interrupted != 0; }

 private:
  bool active_;
  void (*old_int_)(int) = SIG_DFL;
  void (*old_term_)(int) = SIG_DFL;
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

Trainer::Trainer(nn::Module& model, optim::Optimizer& optimizer, Generator& gen,
                 TrainerOptions options)
    : model_(model),
      optimizer_(optimizer),
      gen_(gen),
      options_(std::move(options)),
      parameters_(model.parameters()) {
  const TrainerOptions& o = options_;
  check(o.max_steps >= 0 && o.max_epochs >= 0 && o.steps_per_epoch >= 0 && o.eval_every >= 0 &&
            o.patience >= 0,
        "Trainer: max_steps, max_epochs, steps_per_epoch, eval_every and patience must be >= 0");
  check(o.max_epochs == 0 || o.steps_per_epoch > 0, "Trainer: max_epochs needs steps_per_epoch");
  check(o.time_limit >= 0 && std::isfinite(o.time_limit),
        "Trainer: the time limit must be >= 0 seconds, got {}", o.time_limit);
  check(o.clip >= 0, "Trainer: clip must be >= 0, got {}", o.clip);
  check(!o.resume || !o.out.empty(), "Trainer: resume needs an output folder");
}

void Trainer::set_schedule(std::shared_ptr<const optim::LRScheduler> schedule) {
  schedule_ = std::move(schedule);
}

void Trainer::add_callback(std::shared_ptr<Callback> callback) {
  check(callback != nullptr, "Trainer::add_callback: null callback");
  callbacks_.push_back(std::move(callback));
}

std::int64_t Trainer::epoch() const {
  return options_.steps_per_epoch > 0 ? progress_.step / options_.steps_per_epoch : 0;
}

std::int64_t Trainer::total_steps() const {
  std::int64_t total = std::numeric_limits<std::int64_t>::max();
  if (options_.max_steps > 0) total = options_.max_steps;
  if (options_.max_epochs > 0)
    total = std::min(total, options_.max_epochs * options_.steps_per_epoch);
  return total;
}

Trainer::~Trainer() = default;

StepReport Trainer::step(const BatchLoss& batch) {
  StepReport r;
  r.step = progress_.step + 1;
  r.items = batch.items;
  if (schedule_) optimizer_.set_lr(schedule_->lr_at(progress_.step));
  r.lr = optimizer_.lr();
  optimizer_.zero_grad();
  batch.loss.backward();
  r.loss = batch.loss.item();
  return finish_step(r);
}

StepReport Trainer::finish_step(StepReport r) {
  r.grad_norm = optim::clip_grad_norm_(
      parameters_, options_.clip > 0 ? options_.clip : std::numeric_limits<double>::infinity());
  if (!std::isfinite(r.loss) || !std::isfinite(r.grad_norm)) {
    // Never step on (or save) a poisoned gradient: skip the batch, or stop with the last good
    // checkpoint in place.
    const bool bad_loss = !std::isfinite(r.loss);
    const std::string what =
        fmt::format("step {}: non-finite {} ({})", r.step, bad_loss ? "loss" : "gradient norm",
                    bad_loss ? r.loss : r.grad_norm);
    if (options_.nonfinite == NonFinite::Stop) {
      const std::filesystem::path last = options_.out / "last.safetensors";
      fail("train: {}; stopped; {} (try a lower --lr or --clip, or --nonfinite skip)", what,
           !options_.out.empty() && std::filesystem::exists(last)
               ? "the last good checkpoint is " + last.string()
               : std::string("no checkpoint was written yet"));
    }
    r.skipped = true;
  } else {
    optimizer_.step();
    progress_.items += r.items;
  }
  ++progress_.step;
  return r;
}

void Trainer::set_replicas(int shards, const MakeReplica& make) {
  check(shards >= 2, "Trainer::set_replicas: data-parallel training needs 2 or more shards, got {}",
        shards);
  check(make != nullptr, "Trainer::set_replicas: no function to make a replica");
  std::vector<Replica> replicas;
  for (int k = 1; k < shards; ++k) {
    Replica r{std::make_unique<Generator>(static_cast<std::uint64_t>(k)), nullptr};
    r.model = make(r.gen.get());
    check(r.model != nullptr, "Trainer::set_replicas: replica {} was not made", k);
    check(r.model.get() != &model_, "Trainer::set_replicas: the model itself is not a replica");
    r.model->share_parameters(model_);
    replicas.push_back(std::move(r));
  }
  replicas_ = std::move(replicas);
  replica_parameters_.clear();
  for (const Replica& r : replicas_) replica_parameters_.push_back(r.model->parameters());
  shard_threads_ = std::make_unique<ShardThreads>(static_cast<int>(replicas_.size()) + 1);
}

StepReport Trainer::step_data_parallel(const ShardLoss& shard_loss) {
  check(shard_threads_ != nullptr, "Trainer::step_data_parallel: no replicas (set_replicas)");
  const std::size_t count = replicas_.size() + 1;
  StepReport r;
  r.step = progress_.step + 1;
  if (schedule_) optimizer_.set_lr(schedule_->lr_at(progress_.step));
  r.lr = optimizer_.lr();
  for (const Replica& replica : replicas_) replica.gen->manual_seed(gen_.next_u64());
  optimizer_.zero_grad();
  std::vector<double> losses(count);
  std::vector<std::int64_t> items(count);
  {
    const BlasSingleThreaded blas;  // each shard's products stay on its own thread
    shard_threads_->run([&](int k) {
      // A replica's gradients are dropped on the thread that made them: each thread's pool of
      // small objects then gets back what it gave out (train/shard_threads.h).
      if (k > 0)
        for (const Variable& p : replica_parameters_[static_cast<std::size_t>(k - 1)])
          p.zero_grad();
      nn::Module& model = k == 0 ? model_ : *replicas_[static_cast<std::size_t>(k - 1)].model;
      const BatchLoss b = shard_loss(Shard{k, static_cast<int>(count), model});
      check(b.items >= 0, "train: shard {} reports {} items", k, b.items);
      b.loss.backward();
      losses[static_cast<std::size_t>(k)] = b.loss.item();
      items[static_cast<std::size_t>(k)] = b.items;
    });
  }
  // Each shard's loss is the mean over its items: the whole batch's mean weights them by items.
  std::int64_t total = 0;
  for (const std::int64_t n : items) total += n;
  check(total > 0, "train: step {}: the batch has no items", r.step);
  r.items = total;
  r.loss = 0;
  std::vector<double> weight(count);
  for (std::size_t k = 0; k < count; ++k) {
    weight[k] = static_cast<double>(items[k]) / static_cast<double>(total);
    if (items[k] > 0) r.loss += weight[k] * losses[k];
  }
  // Shards in a fixed order, so a fixed shard count gives the same sums every run.
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    Tensor sum;
    for (std::size_t k = 0; k < count; ++k) {
      const Tensor& g = k == 0 ? parameters_[i].grad() : replica_parameters_[k - 1][i].grad();
      if (!g.defined() || items[k] == 0) continue;
      if (sum.defined())
        sum.add_(g, weight[k]);
      else
        sum = g * weight[k];
    }
    parameters_[i].set_grad(sum);
  }
  return finish_step(r);
}

void Trainer::save(bool best) {
  if (options_.out.empty()) return;
  // The checkpoints first, then the state: a kill before the state is written resumes from the
  // previous state, whose phase then rewrites both checkpoints; the other order could leave a
  // finished state beside a stale last.safetensors that no resumed run would rewrite.
  auto metadata = options_.checkpoint_metadata;
  metadata["step"] = std::to_string(progress_.step);
  try {
    nn::save(model_, (options_.out / "last.safetensors").string(), metadata);
    if (best) nn::save(model_, (options_.out / "best.safetensors").string(), metadata);
    save_training_state(state_path(), model_, optimizer_, gen_, progress_, options_.config);
  } catch (const Error& e) {
    // Each file is written to a temporary name and renamed, so a failed write (a full disk)
    // leaves the previous save whole.
    fail("train: step {}: could not save ({}); {}", progress_.step, e.what(),
         saved_step_ >= 0
             ? fmt::format("{} still holds the run as saved at step {}: free some space and "
                           "resume it",
                           options_.out.string(), saved_step_)
             : std::string("nothing had been saved yet"));
  }
  saved_step_ = progress_.step;
}

void Trainer::write_options() const {
  const std::filesystem::path file = options_.out / "options.json", tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << options_.config.dump(2) << "\n";
    out.flush();
    check(out.good(), "train: cannot write {}", tmp.string());
  }
  std::filesystem::rename(tmp, file);
}

void Trainer::resume_from_state() {
  const TrainingState state = read_training_state(state_path());
  const std::string path = state_path().string();
  // Options that differ: refused unless the caller allows the change; allowed ones are reported.
  const nlohmann::json& was = state.config;
  const nlohmann::json& now = options_.config;
  std::vector<std::string> refused;
  for (const auto& key : [&] {
         std::set<std::string> keys;
         for (auto it = was.begin(); it != was.end(); ++it) keys.insert(it.key());
         for (auto it = now.begin(); it != now.end(); ++it) keys.insert(it.key());
         return keys;
       }()) {
    const auto value = [](const nlohmann::json& j, const std::string& k) {
      return j.contains(k) ? j[k].dump() : std::string("(not set)");
    };
    if (value(was, key) == value(now, key)) continue;
    if (options_.may_change_on_resume.count(key))
      resume_changes_.push_back(
          fmt::format("{} changes from {} to {}", key, value(was, key), value(now, key)));
    else
      refused.push_back(fmt::format("{} was {}, now {}", key, value(was, key), value(now, key)));
  }
  check(refused.empty(),
        "resume: the run in {} was started with other options ({}); resume with the same options, "
        "or start a new run in another folder",
        options_.out.string(), fmt::format("{}", fmt::join(refused, "; ")));
  restore_training_state(state, path, model_, optimizer_, gen_);
  progress_ = state.progress;
  saved_step_ = progress_.step;
}

TrainResult Trainer::fit(const NextLoss& next, const Evaluate& evaluate) {
  check(next != nullptr, "Trainer::fit: no loss function");
  return run([&] { return step(next(progress_.step, gen_)); }, evaluate);
}

TrainResult Trainer::fit_data_parallel(const NextShards& next, const Evaluate& evaluate) {
  check(next != nullptr, "Trainer::fit_data_parallel: no loss function");
  check(shard_threads_ != nullptr, "Trainer::fit_data_parallel: no replicas (set_replicas)");
  return run([&] { return step_data_parallel(next(progress_.step, gen_)); }, evaluate);
}

TrainResult Trainer::run(const std::function<StepReport()>& take_step, const Evaluate& evaluate) {
  const std::int64_t total = total_steps();
  check(total < std::numeric_limits<std::int64_t>::max() || options_.time_limit > 0 ||
            options_.patience > 0 || !std::isnan(options_.stop_at),
        "Trainer::fit: nothing would stop training (set max_steps, max_epochs, a time limit, "
        "patience or stop_at)");
  if (!options_.out.empty()) {
    if (options_.resume) {
      resume_from_state();
    } else {
      check(!std::filesystem::exists(state_path()),
            "{} already holds a run: continue it with --resume, or choose another --out",
            options_.out.string());
    }
    std::filesystem::create_directories(options_.out);
    write_options();
  }
  // Evaluations happen at multiples of this; without one, only when training stops.
  const std::int64_t cadence = options_.eval_every > 0 ? options_.eval_every
                               : options_.steps_per_epoch > 0
                                   ? options_.steps_per_epoch
                                   : std::numeric_limits<std::int64_t>::max();
  const auto start = std::chrono::steady_clock::now();
  const double wall_before = progress_.wall_seconds;
  auto wall = [&] { return wall_before + seconds_since(start); };
  double eval_seconds = 0;  // the last evaluation's duration: the time limit keeps room for one

  TrainResult result;
  notify([&](Callback& c) { c.on_train_begin(*this); });
  const SignalScope signals(options_.handle_signals);
  bool stop = false;
  while (!stop) {
    if (progress_.step >= total) {
      result.reason = options_.max_steps > 0 && progress_.step >= options_.max_steps
                          ? StopReason::Steps
                          : StopReason::Epochs;
      break;
    }
    if (options_.time_limit > 0 && wall() + eval_seconds >= options_.time_limit) {
      result.reason = StopReason::TimeLimit;  // a resumed run that had used its time
      break;
    }
    const std::int64_t first = progress_.step + 1;
    const std::int64_t phase = std::min(cadence - progress_.step % cadence, total - progress_.step);
    notify([&](Callback& c) { c.on_phase_begin(*this, first, first + phase - 1); });
    model_.train();  // evaluation may have left it in eval mode
    for (const Replica& replica : replicas_) replica.model->train();
    const auto phase_start = std::chrono::steady_clock::now();
    double weighted_loss = 0;
    std::int64_t items = 0;
    bool out_of_time = false;
    for (std::int64_t done = 0; done < phase && !out_of_time && !signals.fired(); ++done) {
      const StepReport r = take_step();
      if (!r.skipped) {
        weighted_loss += r.loss * static_cast<double>(r.items);
        items += r.items;
      }
      notify([&](Callback& c) { c.on_step_end(*this, r); });
      out_of_time = options_.time_limit > 0 && wall() + eval_seconds >= options_.time_limit;
    }
    const PhaseReport report{first, progress_.step,
                             items > 0 ? weighted_loss / static_cast<double>(items)
                                       : std::numeric_limits<double>::quiet_NaN(),
                             seconds_since(phase_start), items};
    progress_.seconds += report.seconds;
    result.last_phase_loss = report.mean_loss;
    notify([&](Callback& c) { c.on_phase_end(*this, report); });
    if (signals.fired()) {
      progress_.wall_seconds = wall();
      save(false);
      result.reason = StopReason::Interrupted;
      result.progress = progress_;
      return result;  // no evaluation: the user asked to stop now
    }
    bool best = false;
    if (evaluate) {
      const auto eval_start = std::chrono::steady_clock::now();
      const Evaluation e = evaluate();
      eval_seconds = seconds_since(eval_start);
      best = e.effective_score() > progress_.best_score;
      if (best) progress_.best_score = e.effective_score();
      if (e.loss < progress_.best_loss) {
        progress_.best_loss = e.loss;
        progress_.evals_since_best_loss = 0;
      } else {
        ++progress_.evals_since_best_loss;
      }
      result.last_evaluation = e;
      notify([&](Callback& c) { c.on_evaluation(*this, e, best); });
      if (!std::isnan(options_.stop_at) && e.effective_score() >= options_.stop_at) {
        result.reason = StopReason::TargetReached;
        stop = true;
      } else if (options_.patience > 0 && progress_.evals_since_best_loss >= options_.patience) {
        result.reason = StopReason::EarlyStopping;
        stop = true;
      }
    }
    progress_.wall_seconds = wall();
    save(best);
    if (!stop && out_of_time) {
      result.reason = StopReason::TimeLimit;
      stop = true;
    }
  }
  // A run resumed after it had finished trains no step: evaluate once, so there is a result.
  if (!result.last_evaluation && evaluate) result.last_evaluation = evaluate();
  result.progress = progress_;
  notify([&](Callback& c) { c.on_train_end(*this, result); });
  return result;
}

}  // namespace seqgrad::train
