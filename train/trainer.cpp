#include "train/trainer.h"

#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>

#include "optim/clip.h"

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

StepReport Trainer::step(const BatchLoss& batch) {
  StepReport r;
  r.step = progress_.step + 1;
  r.items = batch.items;
  if (schedule_) optimizer_.set_lr(schedule_->lr_at(progress_.step));
  r.lr = optimizer_.lr();
  optimizer_.zero_grad();
  batch.loss.backward();
  r.grad_norm = optim::clip_grad_norm_(
      parameters_, options_.clip > 0 ? options_.clip : std::numeric_limits<double>::infinity());
  r.loss = batch.loss.item();
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
    progress_.items += batch.items;
  }
  ++progress_.step;
  return r;
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
    const auto phase_start = std::chrono::steady_clock::now();
    double weighted_loss = 0;
    std::int64_t items = 0;
    bool out_of_time = false;
    for (std::int64_t done = 0; done < phase && !out_of_time && !signals.fired(); ++done) {
      const StepReport r = step(next(progress_.step, gen_));
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
