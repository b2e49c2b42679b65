#include "train/progress.h"

#include <fmt/core.h>
#include <unistd.h>

namespace seqgrad::train {

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::string label, std::int64_t total, std::string unit, std::int64_t log_every)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      log_every_(log_every),
      tty_(stderr_is_terminal()),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Progress::items_per_second() const {
  const double s = seconds();
  return s > 0 ? static_cast<double>(items_) / s : 0.0;
}

namespace {
std::string clock(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  return fmt::format("{}:{:02d}", s / 60, s % 60);
}
}  // namespace

void Progress::update(std::int64_t step, std::int64_t items, const std::string& metrics) {
  items_ += items;
  const auto now = std::chrono::steady_clock::now();
  const double done = total_ > 0 ? static_cast<double>(step) / static_cast<double>(total_) : 1.0;
  const double eta = done > 0 ? seconds() * (1.0 - done) / done : 0.0;
  if (tty_) {
    if (now - last_draw_ < std::chrono::milliseconds(100) && step < total_) return;
    last_draw_ = now;
    const int width = 24, filled = static_cast<int>(done * width);
    fmt::print(stderr, "\r{} [{}{}] {:>3.0f}%  {}  {:.0f} {}/s  ETA {}\x1b[K", label_,
               std::string(static_cast<std::size_t>(filled), '='),
               std::string(static_cast<std::size_t>(width - filled), ' '), done * 100, metrics,
               items_per_second(), unit_, clock(eta));
    return;
  }
  if (log_every_ <= 0 || step % log_every_ != 0 || step == total_) return;
  fmt::print(stderr, "{} {:>3.0f}%  {}  {:.0f} {}/s  ETA {}\n", label_, done * 100, metrics,
             items_per_second(), unit_, clock(eta));
}

void Progress::finish(const std::string& metrics) {
  if (tty_) fmt::print(stderr, "\r\x1b[K");
  fmt::print(stderr, "{} done in {}  {}  {:.0f} {}/s\n", label_, clock(seconds()), metrics,
             items_per_second(), unit_);
}

}  // namespace seqgrad::train
