// Losses. cross_entropy is one fused op: per row, loss = logsumexp(x) - x[target] (smoothed:
// lse - (1-e) x[t] - e/C sum x), and its gradient is softmax(x) - onehot (smoothed: - e/C),
// so no [N, C] log-probability tensor is materialised for the graph.
#include <cmath>

#include "autograd/node.h"
#include "nn/functional.h"

namespace seqgrad::nn::functional {

namespace {

Variable reduce(const Variable& per_element, Reduction reduction, double count) {
  switch (reduction) {
    case Reduction::None:
      return per_element;
    case Reduction::Sum:
      return sum(per_element);
    case Reduction::Mean:
      return sum(per_element) / count;
  }
  return per_element;
}

// Logits [N, C, d...] -> rows [N*d..., C]; target [N, d...] -> [N*d...].
std::pair<Variable, Tensor> as_rows(const Variable& logits, const Tensor& target, const char* op) {
  check_defined(target, op);
  check(target.dtype() == kInt64, "{}: target must hold int64 class indices, got {}", op,
        target.dtype());
  check(logits.dim() >= 1, "{}: input must have a class dim, got shape {}", op, logits.shape());
  if (logits.dim() == 1) return as_rows(logits.unsqueeze(0), target.reshape({1}), op);
  Dims expected = logits.shape();
  expected.erase(1);
  check(target.shape() == expected,
        "{}: target of shape {} does not match input of shape {} "
        "(expected {})",
        op, target.shape(), logits.shape(), expected);
  if (logits.dim() == 2) return {logits, target};
  Dims order{0};
  for (int d = 2; d < logits.dim(); ++d) order.push_back(d);
  order.push_back(1);
  return {logits.permute(order).reshape({-1, logits.size(1)}), target.reshape({-1})};
}

// cross_entropy's backward composed from autograd ops, for create_graph (the fused kernel runs
// on tensors only): dx = gy (softmax(x) - (1 - eps) onehot(t) - eps / C), zero on ignored rows.
Variable cross_entropy_backward_composed(const Variable& gy, const Variable& logits,
                                         const Tensor& t, std::int64_t C, double eps,
                                         std::int64_t ignore_index) {
  const Tensor kept = logical_not(eq(t, static_cast<double>(ignore_index))).to(logits.dtype());
  const Tensor safe_t = where(eq(t, static_cast<double>(ignore_index)), zeros_like(t), t);
  Tensor target = zeros(logits.shape(), logits.dtype()) + eps / static_cast<double>(C);
  scatter_add_(target, 1, safe_t.unsqueeze(1), full({t.numel(), 1}, 1.0 - eps, logits.dtype()));
  const Tensor keep = kept.unsqueeze(1);
  return (softmax(logits, 1) - target) * keep * gy.unsqueeze(1);
}

}  // namespace

Variable cross_entropy(const Variable& logits_in, const Tensor& target_in, Reduction reduction,
                       std::int64_t ignore_index, double label_smoothing) {
  check(label_smoothing >= 0.0 && label_smoothing <= 1.0,
        "cross_entropy: label_smoothing must be in [0, 1], got {}", label_smoothing);
  check(is_floating(logits_in.dtype()), "cross_entropy: logits must be floating, got {}",
        logits_in.dtype());
  const auto [logits, target] = as_rows(logits_in, target_in, "cross_entropy");
  const std::int64_t N = logits.size(0), C = logits.size(1);
  const Tensor x = logits.value().contiguous(), t = target.contiguous();
  const std::int64_t* tp = t.data<std::int64_t>();
  std::int64_t counted = 0;
  for (std::int64_t i = 0; i < N; ++i) {
    if (tp[i] == ignore_index) continue;
    check(tp[i] >= 0 && tp[i] < C,
          "cross_entropy: target {} at position {} is out of range for "
          "{} classes",
          tp[i], i, C);
    ++counted;
  }
  const double eps = label_smoothing;
  Tensor loss = Tensor::empty({N}, x.dtype());
  Tensor lse = Tensor::empty({N}, x.dtype());
  dispatch_floating(x.dtype(), "cross_entropy", [&]<class T>() {
    const T* xp = x.data<T>();
    T* lp = loss.data<T>();
    T* sp = lse.data<T>();
    for (std::int64_t i = 0; i < N; ++i) {
      const T* row = xp + i * C;
      T m = row[0];
      for (std::int64_t c = 1; c < C; ++c) m = std::max(m, row[c]);
      double total = 0.0, row_sum = 0.0;
      for (std::int64_t c = 0; c < C; ++c) {
        total += std::exp(static_cast<double>(row[c] - m));
        row_sum += row[c];
      }
      const double l = static_cast<double>(m) + std::log(total);
      sp[i] = static_cast<T>(l);
      lp[i] = tp[i] == ignore_index ? T(0)
                                    : static_cast<T>(l - (1.0 - eps) * row[tp[i]] -
                                                     eps / static_cast<double>(C) * row_sum);
    }
  });
  const Dims out_shape = target_in.shape();
  Variable per =
      record("cross_entropy", loss, {logits},
             [x, logits, t, lse, N, C, eps, ignore_index](const auto& gy, auto& dx) {
               if constexpr (!on_tensors<decltype(gy)>) {
                 dx[0] += cross_entropy_backward_composed(gy, logits, t, C, eps, ignore_index);
               } else {
                 Tensor g = Tensor::empty({N, C}, x.dtype());
                 const Tensor gyc = gy.contiguous();
                 dispatch_floating(x.dtype(), "cross_entropy", [&]<class T>() {
                   const T* xp = x.data<T>();
                   const T* sp = lse.data<T>();
                   const T* gp = gyc.data<T>();
                   const std::int64_t* tp = t.data<std::int64_t>();
                   T* out = g.data<T>();
                   const T smooth = static_cast<T>(eps / static_cast<double>(C));
                   for (std::int64_t i = 0; i < N; ++i) {
                     T* row = out + i * C;
                     if (tp[i] == ignore_index) {
                       std::fill_n(row, C, T(0));
                       continue;
                     }
                     const T scale = gp[i];
                     for (std::int64_t c = 0; c < C; ++c)
                       row[c] = scale * (std::exp(xp[i * C + c] - sp[i]) - smooth);
                     row[tp[i]] -= scale * static_cast<T>(1.0 - eps);
                   }
                 });
                 dx[0] += g;
               }
             },
             {x});
  return reduce(per.reshape(out_shape), reduction, static_cast<double>(counted));
}

// loss_i = -log_probs[i, target_i]
Variable nll_loss(const Variable& log_probs, const Tensor& target_in, Reduction reduction,
                  std::int64_t ignore_index) {
  const auto [rows, target] = as_rows(log_probs, target_in, "nll_loss");
  const std::int64_t C = rows.size(1);
  const Tensor keep = ne(target, static_cast<double>(ignore_index));
  const Tensor safe = where(keep, target, zeros_like(target));
  // A named copy: data() of a temporary contiguous() (a non-contiguous target) would dangle.
  const Tensor target_c = target.contiguous();
  const std::int64_t* tp = target_c.data<std::int64_t>();
  for (std::int64_t i = 0; i < target.numel(); ++i)
    check(tp[i] == ignore_index || (tp[i] >= 0 && tp[i] < C),
          "nll_loss: target {} at position {} is out of range for {} classes", tp[i], i, C);
  const Variable picked = gather(rows, 1, safe.unsqueeze(1)).squeeze(1);
  const Variable per = masked_fill(-picked, logical_not(keep), 0.0);
  const double counted = sum(keep).item();
  return reduce(per.reshape(target_in.shape()), reduction, counted);
}

Variable mse_loss(const Variable& input, const Variable& target, Reduction reduction) {
  check(input.shape() == target.shape(), "mse_loss: input shape {} and target shape {} differ",
        input.shape(), target.shape());
  const Variable d = input - target;
  return reduce(d * d, reduction, static_cast<double>(input.numel()));
}

// max(x, 0) - x t + log(1 + e^-|x|): never exponentiates a large positive number.
Variable binary_cross_entropy_with_logits(const Variable& logits, const Variable& target,
                                          Reduction reduction) {
  check(logits.shape() == target.shape(),
        "binary_cross_entropy_with_logits: input shape {} and target shape {} differ",
        logits.shape(), target.shape());
  const Variable per = relu(logits) - logits * target + log(exp(-abs(logits)) + 1.0);
  return reduce(per, reduction, static_cast<double>(logits.numel()));
}

}  // namespace seqgrad::nn::functional
