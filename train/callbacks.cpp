#include "train/callbacks.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

namespace seqgrad::train {

// --- ProgressLog -------------------------------------------------------------------------------

void ProgressLog::on_train_begin(const Trainer& t) {
  if (quiet_ || t.progress().step == 0) return;
  fmt::print(stderr, "resuming at step {}\n", t.progress().step);
  for (const std::string& change : t.resume_changes()) fmt::print(stderr, "  {}\n", change);
}

void ProgressLog::on_phase_begin(const Trainer&, std::int64_t first_step, std::int64_t last_step) {
  if (quiet_) return;
  bar_ = std::make_unique<Progress>(fmt::format("steps {}-{}", first_step, last_step),
                                    last_step - first_step + 1, unit_, log_every_);
  first_step_ = first_step;
  weighted_loss_ = 0;
  items_ = 0;
}

void ProgressLog::on_step_end(const Trainer&, const StepReport& r) {
  if (r.skipped) {
    fmt::print(stderr, "train: step {}: non-finite loss or gradient norm; batch skipped\n", r.step);
  } else {
    weighted_loss_ += r.loss * static_cast<double>(r.items);
    items_ += r.items;
  }
  if (bar_)
    bar_->update(r.step - first_step_ + 1, r.items,
                 fmt::format("loss {:.4f}", weighted_loss_ / static_cast<double>(items_)));
}

void ProgressLog::on_phase_end(const Trainer&, const PhaseReport& r) {
  if (bar_) bar_->finish(fmt::format("loss {:.4f}", r.mean_loss));
  bar_.reset();
}

void ProgressLog::on_evaluation(const Trainer& t, const Evaluation& e, bool) {
  if (quiet_) return;
  std::string line = fmt::format("step {}: dev loss {:.4f}", t.progress().step, e.loss);
  for (const auto& [name, value] : e.metrics) line += fmt::format(", {} {:.4f}", name, value);
  fmt::print(stderr, "{}\n", line);
}

void ProgressLog::on_train_end(const Trainer& t, const TrainResult& r) {
  if (!quiet_) fmt::print(stderr, "stopped at step {}: {}\n", r.progress.step, describe_stop(t, r));
}

std::string describe_stop(const Trainer& t, const TrainResult& r) {
  const TrainerOptions& o = t.options();
  switch (r.reason) {
    case StopReason::Steps:
      return fmt::format("reached the step limit ({})", o.max_steps);
    case StopReason::Epochs:
      return fmt::format("reached the epoch limit ({})", o.max_epochs);
    case StopReason::TimeLimit:
      return fmt::format(
          "the time limit ({} s, training and evaluation) left no room for another "
          "phase",
          o.time_limit);
    case StopReason::EarlyStopping:
      return fmt::format("early stopping: no lower dev loss than {:.4f} in {} evaluations",
                         r.progress.best_loss, o.patience);
    case StopReason::TargetReached:
      return fmt::format("the dev score reached the target ({})", o.stop_at);
    case StopReason::Interrupted:
      return "interrupted";
  }
  return "unknown";
}

// --- MetricsLog --------------------------------------------------------------------------------

namespace {

std::vector<std::string> read_lines(const std::filesystem::path& file) {
  std::vector<std::string> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Writes `lines` to file.tmp and renames it over `file`.
void replace_file(const std::filesystem::path& file, const std::vector<std::string>& lines) {
  const std::filesystem::path tmp = file.string() + ".tmp";
  {
    std::ofstream fresh(tmp, std::ios::trunc);
    for (const auto& line : lines) fresh << line << "\n";
    fresh.flush();
    check(fresh.good(), "train: cannot write {}", tmp.string());
  }
  std::filesystem::rename(tmp, file);
}

std::int64_t leading_step(const std::string& line, bool json) {
  try {
    return json ? nlohmann::json::parse(line).at("step").get<std::int64_t>()
                : std::stoll(line.substr(0, line.find(',')));
  } catch (const std::exception&) {
    return -1;  // a torn last line of a killed run: dropped
  }
}

}  // namespace

void MetricsLog::on_train_begin(const Trainer& t) {
  const std::int64_t step = t.progress().step;
  const std::filesystem::path csv = out_ / "metrics.csv", jsonl = out_ / "metrics.jsonl";
  std::vector<std::string> csv_rows, json_rows;
  if (step > 0) {  // resumed: keep what was logged up to the restored step
    const auto old_csv = read_lines(csv);
    for (std::size_t i = 0; i < old_csv.size(); ++i) {
      if (i == 0) {
        csv_rows.push_back(old_csv[0]);  // the header
        header_written_ = true;
      } else if (!old_csv[i].empty()) {
        const std::int64_t s = leading_step(old_csv[i], false);
        if (s >= 1 && s <= step) csv_rows.push_back(old_csv[i]);
      }
    }
    for (const auto& line : read_lines(jsonl)) {
      const std::int64_t s = leading_step(line, true);
      if (s >= 1 && s <= step) json_rows.push_back(line);
    }
  }
  replace_file(csv, csv_rows);
  replace_file(jsonl, json_rows);
}

void MetricsLog::on_evaluation(const Trainer& t, const Evaluation& e, bool) {
  const TrainingProgress& p = t.progress();
  const double per_s = p.seconds > 0 ? static_cast<double>(p.items) / p.seconds : 0.0;
  const std::string throughput = fmt::format("train_{}_per_s", unit_);
  if (!header_written_) {
    std::string header = "step,train_seconds,train_loss," + throughput + ",dev_loss";
    for (const auto& m : e.metrics) header += ",dev_" + m.first;
    std::ofstream(out_ / "metrics.csv", std::ios::app) << header << "\n";
    header_written_ = true;
  }
  std::string row = fmt::format("{},{:.3f},{:.6f},{:.1f},{:.6f}", p.step, p.seconds,
                                last_phase_.mean_loss, per_s, e.loss);
  nlohmann::json j = {{"step", p.step},
                      {"train_seconds", p.seconds},
                      {"train_loss", last_phase_.mean_loss},
                      {throughput, per_s},
                      {"dev_loss", e.loss}};
  for (const auto& [name, value] : e.metrics) {
    row += fmt::format(",{:.6f}", value);
    j["dev_" + name] = value;
  }
  std::ofstream csv(out_ / "metrics.csv", std::ios::app);
  csv << row << "\n";
  std::ofstream jsonl(out_ / "metrics.jsonl", std::ios::app);
  jsonl << j.dump() << "\n";
  check(csv.good() && jsonl.good(), "train: cannot append to {}", out_.string());
}

}  // namespace seqgrad::train
