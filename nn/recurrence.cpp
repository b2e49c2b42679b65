#include "nn/recurrence.h"

#include <algorithm>

namespace seqgrad::nn::detail {

std::int64_t check_lengths(const char* op, std::int64_t T, std::int64_t B,
                           const std::vector<std::int64_t>& lengths) {
  check(static_cast<std::int64_t>(lengths.size()) == B,
        "{}: {} lengths given for a batch of {} sequences", op, lengths.size(), B);
  std::int64_t live = 0;
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    check(lengths[b] >= 0 && lengths[b] <= T,
          "{}: length {} of sequence {} is outside [0, {}] (T = {})", op, lengths[b], b, T, T);
    live += lengths[b];
  }
  return live;
}

Recurrence check_recurrence(const char* op, std::int64_t gates, const Variable& gx,
                            const Variable& h0, const Variable& w_hh, const Variable& b_hh,
                            const std::vector<std::int64_t>& lengths, bool reverse) {
  check(gx.defined() && h0.defined() && w_hh.defined() && b_hh.defined(),
        "{}: gx, h0, w_hh and b_hh must all be defined", op);
  check(h0.dim() == 2, "{}: h0 must be [B, H], got shape {}", op, h0.shape());
  Recurrence r;
  r.B = h0.size(0);
  r.H = h0.size(1);
  r.G = gates;
  r.reverse = reverse;
  const std::int64_t GH = gates * r.H;
  check(gx.dim() == 3 && gx.size(1) == r.B && gx.size(2) == GH,
        "{}: gx must be [T, B, {}*H] = [T, {}, {}] for h0 of shape {}, got shape {}", op, gates,
        r.B, GH, h0.shape(), gx.shape());
  r.T = gx.size(0);
  check(w_hh.dim() == 2 && w_hh.size(0) == GH && w_hh.size(1) == r.H,
        "{}: w_hh must be [{}, {}], got shape {}", op, GH, r.H, w_hh.shape());
  r.bias_per_row = b_hh.dim() == 2;
  check((b_hh.dim() == 1 && b_hh.size(0) == GH) ||
            (b_hh.dim() == 2 && b_hh.size(0) == r.B && b_hh.size(1) == GH),
        "{}: b_hh must be [{}] or [{}, {}], got shape {}", op, GH, r.B, GH, b_hh.shape());
  for (const Variable* v : {&h0, &w_hh, &b_hh})
    check(v->dtype() == gx.dtype() && is_floating(gx.dtype()),
          "{}: all operands must share one floating dtype, got {} and {}", op, gx.dtype(),
          v->dtype());
  if (lengths.empty()) {
    r.lengths.assign(static_cast<std::size_t>(r.B), r.T);
  } else {
    check_lengths(op, r.T, r.B, lengths);
    r.lengths = lengths;
  }
  r.order.resize(static_cast<std::size_t>(r.B));
  for (std::int64_t b = 0; b < r.B; ++b) r.order[static_cast<std::size_t>(b)] = b;
  std::stable_sort(r.order.begin(), r.order.end(), [&](std::int64_t a, std::int64_t b) {
    return r.lengths[static_cast<std::size_t>(a)] > r.lengths[static_cast<std::size_t>(b)];
  });
  r.live.assign(static_cast<std::size_t>(r.T), 0);
  for (const std::int64_t len : r.lengths)
    for (std::int64_t t = 0; t < len; ++t) ++r.live[static_cast<std::size_t>(t)];
  return r;
}

Tensor bias_grad(const Tensor& dgh, const Recurrence& r) {
  if (!r.bias_per_row) return sum(dgh, {0, 1});
  const Tensor sorted = sum(dgh, {0});
  Tensor out = Tensor::empty(sorted.shape(), sorted.dtype());
  dispatch_floating(sorted.dtype(), "bias_grad", [&]<class T>() {
    unsort_rows(r, sorted.data<T>(), out.data<T>(), sorted.size(1));
  });
  return out;
}

}  // namespace seqgrad::nn::detail
