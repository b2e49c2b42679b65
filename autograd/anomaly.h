// Anomaly detection, like torch.autograd.detect_anomaly: while it is on, every op that records a
// node checks its output for NaN and Inf, and every backward function checks each gradient it
// sends to its inputs. The first non-finite value raises an Error that names the op, the shapes,
// the first bad element, and the call stack at the moment the op was recorded in the forward pass
// (so a NaN that appears in backward is traced to the forward code that built the op).
//
// It costs a pass over every output and gradient and a stack capture per recorded op: turn it on
// to find a bug (`seqgrad train --detect-anomaly`), not for speed. Ops run without recording
// (NoGradGuard, inputs that need no grad) are not checked: nothing can be traced back to them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace seqgrad {

struct Node;

class AnomalyMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool on);
};

// Turns anomaly detection on (or off) for its lifetime: { DetectAnomalyGuard on; ... }.
class DetectAnomalyGuard {
 public:
  explicit DetectAnomalyGuard(bool on = true) : previous_(AnomalyMode::is_enabled()) {
    AnomalyMode::set_enabled(on);
  }
  ~DetectAnomalyGuard() { AnomalyMode::set_enabled(previous_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

// Where a node was recorded: kept on the node only while anomaly mode is on.
struct CreationTrace {
  std::uint64_t index = 0;    // the n-th op recorded since the program started
  std::vector<void*> frames;  // return addresses, symbolised only when an error is reported
  std::string where() const;  // "recorded as op #12 at:\n  frame\n  frame..."
};

namespace detail {
// Both throw Error when `t` (floating point) holds a NaN or an infinity.
void check_forward_output(const Node& node, const Tensor& t);
void check_backward_gradient(const char* op, const Node* node, int input, const Tensor& g);
std::unique_ptr<CreationTrace> capture_creation_trace();
}  // namespace detail

}  // namespace seqgrad
