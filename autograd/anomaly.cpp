#include "autograd/anomaly.h"

#include <cxxabi.h>
#include <execinfo.h>

#include <atomic>
#include <cmath>
#include <cstdlib>

#include "autograd/node.h"

namespace seqgrad {

namespace {
std::atomic<bool> anomaly_enabled{false};
std::atomic<std::uint64_t> ops_recorded{0};

// "binary(_ZN7seqgrad3expE...+0x1c) [0x...]" -> "seqgrad::exp(...)" when the symbol is known.
std::string readable_frame(const char* raw) {
  const std::string s(raw);
  const auto open = s.find('('), plus = s.find('+', open == std::string::npos ? 0 : open);
  if (open == std::string::npos || plus == std::string::npos || plus == open + 1) return s;
  const std::string mangled = s.substr(open + 1, plus - open - 1);
  int status = 0;
  char* name = abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status);
  if (status != 0 || name == nullptr) return s;
  std::string out(name);
  std::free(name);
  return out;
}

// The first NaN or infinity of a floating-point tensor: {flat index, value}, or index -1.
std::pair<std::int64_t, double> first_non_finite(const Tensor& t) {
  if (t.dtype() != kFloat32 && t.dtype() != kFloat64) return {-1, 0.0};
  const Tensor c = t.to(kFloat64).contiguous();
  const double* p = c.data<double>();
  for (std::int64_t i = 0; i < c.numel(); ++i)
    if (!std::isfinite(p[i])) return {i, p[i]};
  return {-1, 0.0};
}

std::string creation_of(const Node* node) {
  if (node == nullptr || !node->trace) return "(recorded before anomaly mode was turned on)";
  return node->trace->where();
}
}  // namespace

bool AnomalyMode::is_enabled() { return anomaly_enabled.load(std::memory_order_relaxed); }
void AnomalyMode::set_enabled(bool on) { anomaly_enabled.store(on); }

std::string CreationTrace::where() const {
  std::string out = fmt::format("recorded as op #{} at:", index);
  char** names = backtrace_symbols(frames.data(), static_cast<int>(frames.size()));
  for (std::size_t i = 0; i < frames.size(); ++i)
    out += "\n    " + (names ? readable_frame(names[i]) : fmt::format("{}", frames[i]));
  std::free(names);
  return out;
}

namespace detail {

std::unique_ptr<CreationTrace> capture_creation_trace() {
  auto trace = std::make_unique<CreationTrace>();
  trace->index = ++ops_recorded;
  void* frames[24];
  const int n = backtrace(frames, 24);
  // Skip this function and attach(): the first frame shown is the op itself.
  for (int i = std::min(n, 2); i < n; ++i) trace->frames.push_back(frames[i]);
  return trace;
}

void check_forward_output(const Node& node, const Tensor& t) {
  const auto [i, v] = first_non_finite(t);
  if (i < 0) return;
  fail(
      "anomaly: the forward of '{}' produced {} at element {} of its output of shape {}; the "
      "op was {}",
      node.op, v, i, t.shape(), creation_of(&node));
}

void check_backward_gradient(const char* op, const Node* node, int input, const Tensor& g) {
  const auto [i, v] = first_non_finite(g);
  if (i < 0) return;
  fail(
      "anomaly: the backward of '{}' produced {} at element {} of the gradient (shape {}) for "
      "its input {}; the op was {}",
      op, v, i, g.shape(), input, creation_of(node));
}

}  // namespace detail

}  // namespace seqgrad
