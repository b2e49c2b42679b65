// Training progress: a one-line bar redrawn in place on a terminal; elsewhere (logs, CI, pipes) a
// plain line every `log_every` steps (0: none) and one when the phase ends.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace seqgrad::train {

class Progress {
 public:
  // `total` steps in this phase; `label` prefixes each line (e.g. "steps 1-200").
  Progress(std::string label, std::int64_t total, std::string unit, std::int64_t log_every = 0);
  // Call after each step with the items it processed and the metrics to show.
  void update(std::int64_t step, std::int64_t items, const std::string& metrics);
  // Ends the phase (a newline after the bar on a terminal).
  void finish(const std::string& metrics);
  double items_per_second() const;
  double seconds() const;

 private:
  std::string label_, unit_;
  std::int64_t total_, log_every_, items_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

bool stderr_is_terminal();

}  // namespace seqgrad::train
