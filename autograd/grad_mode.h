// Whether operations record a graph. Off inside a NoGradGuard (optimiser updates, evaluation).
// The flag is per thread, like PyTorch's.
#pragma once

namespace seqgrad {

class GradMode {
 public:
  static bool is_enabled() { return enabled_; }
  static void set_enabled(bool on) { enabled_ = on; }

 private:
  static thread_local bool enabled_;
};

// Disables graph recording for its lifetime: { NoGradGuard no_grad; ... }.
class NoGradGuard {
 public:
  NoGradGuard() : previous_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Turns graph recording on for its lifetime, even inside a NoGradGuard (grad() with create_graph
// records the backward pass this way, as torch.enable_grad does).
class EnableGradGuard {
 public:
  EnableGradGuard() : previous_(GradMode::is_enabled()) { GradMode::set_enabled(true); }
  ~EnableGradGuard() { GradMode::set_enabled(previous_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace seqgrad
