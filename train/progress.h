// Training progress: a one-line bar redrawn in place on a terminal, plain lines otherwise
// (logs, CI, pipes), so the output is readable in both.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace seqgrad::train {

class Progress {
 public:
  // `total` steps in this phase; `label` prefixes each line (e.g. "epoch 1/3").
  Progress(std::string label, std::int64_t total, std::string unit);
  // Call after each step with the items it processed and the metrics to show.
  void update(std::int64_t step, std::int64_t items, const std::string& metrics);
  // Ends the phase (a newline after the bar on a terminal).
  void finish(const std::string& metrics);
  double items_per_second() const;
  double seconds() const;

 private:
  std::string label_, unit_;
  std::int64_t total_, items_ = 0, last_plain_ = -1;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

bool stderr_is_terminal();

}  // namespace seqgrad::train
