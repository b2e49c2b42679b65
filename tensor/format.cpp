#include "tensor/format.h"

#include <cmath>
#include <vector>

namespace seqgrad {

namespace {

constexpr std::int64_t kSummarizeAbove = 1000;
constexpr std::int64_t kEdgeItems = 3;

struct Printer {
  const Tensor& t;
  bool summarize;
  bool floating;
  bool use_exponent;
  int width;
  std::string out;

  std::string element(std::int64_t offset) const {
    return dispatch(t.dtype(), [&]<class T>() -> std::string {
      const T v = static_cast<const T*>(t.storage()->data())[offset];
      if constexpr (std::is_same_v<T, bool>)
        return v ? "True" : "False";
      else if constexpr (std::is_integral_v<T>)
        return fmt::format("{}", v);
      else if (std::isnan(v))
        return "nan";
      else if (std::isinf(v))
        return v > 0 ? "inf" : "-inf";
      else if (use_exponent)
        return fmt::format("{:.4e}", static_cast<double>(v));
      else
        return fmt::format("{:.4f}", static_cast<double>(v));
    });
  }

  // Visits the elements that will be printed (for the column width) or prints them.
  void walk(int d, std::int64_t offset, int indent, bool print) {
    if (d == t.dim()) {
      if (print)
        out += fmt::format("{:>{}}", element(offset), width);
      else
        width = std::max<int>(width, static_cast<int>(element(offset).size()));
      return;
    }
    const std::int64_t n = t.size(d);
    if (print) out += '[';
    for (std::int64_t i = 0; i < n; ++i) {
      if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
        if (print) {
          out += d + 1 == t.dim() ? "...," : "...,\n" + std::string(indent + 1, ' ');
          if (d + 1 == t.dim()) out += ' ';
        }
        i = n - kEdgeItems - 1;
        continue;
      }
      walk(d + 1, offset + i * t.stride(d), indent + 1, print);
      if (print && i + 1 < n) {
        out += ',';
        if (d + 1 == t.dim())
          out += ' ';
        else
          out += std::string(t.dim() - d - 1, '\n') + std::string(indent + 1, ' ');
      }
    }
    if (print) out += ']';
  }
};

}  // namespace

std::string to_string(const Tensor& t) {
  if (!t.defined()) return "tensor(undefined)";
  const std::string suffix = fmt::format("shape={}, dtype={}", t.shape(), t.dtype());
  if (t.numel() == 0) return fmt::format("tensor([], {})", suffix);
  Printer p{t, t.numel() > kSummarizeAbove, is_floating(t.dtype()), false, 0, {}};
  if (p.floating) {
    // Exponent notation when fixed notation would hide the values.
    double lo = INFINITY, hi = 0;
    for (double v : t.to_vector<double>())
      if (std::isfinite(v) && v != 0) {
        lo = std::min(lo, std::abs(v));
        hi = std::max(hi, std::abs(v));
      }
    p.use_exponent = hi >= 1e8 || (hi > 0 && lo < 1e-4);
  }
  const std::string prefix = "tensor(";
  // walk() indents continuation lines by indent + 1, which puts the rows of dim 0 under the
  // first row's bracket, one column right of "tensor(" (as PyTorch does).
  p.walk(0, t.offset(), static_cast<int>(prefix.size()), false);
  p.walk(0, t.offset(), static_cast<int>(prefix.size()), true);
  return prefix + p.out + ", " + suffix + ")";
}

}  // namespace seqgrad
