#include "nn/init.h"

#include <cmath>
#include <vector>

namespace seqgrad::nn::init {

std::pair<std::int64_t, std::int64_t> fans(const Tensor& t) {
  check(t.dim() >= 2, "init: fan in and fan out need a tensor of at least 2 dims, got shape {}",
        t.shape());
  std::int64_t receptive = 1;
  for (int d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

const Tensor& uniform_(const Tensor& t, double low, double high, Generator* gen) {
  return seqgrad::uniform_(t, low, high, gen);
}
const Tensor& normal_(const Tensor& t, double mean, double std, Generator* gen) {
  return seqgrad::normal_(t, mean, std, gen);
}
const Tensor& zeros_(const Tensor& t) { return t.fill_(0.0); }
const Tensor& ones_(const Tensor& t) { return t.fill_(1.0); }

const Tensor& xavier_uniform_(const Tensor& t, double gain, Generator* gen) {
  const auto [fan_in, fan_out] = fans(t);
  const double a = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return seqgrad::uniform_(t, -a, a, gen);
}

const Tensor& kaiming_uniform_(const Tensor& t, double a, Generator* gen) {
  const auto [fan_in, fan_out] = fans(t);
  check(fan_in > 0, "kaiming_uniform_: fan_in is 0 for shape {}", t.shape());
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  const double bound = gain * std::sqrt(3.0 / static_cast<double>(fan_in));
  return seqgrad::uniform_(t, -bound, bound, gen);
}

const Tensor& orthogonal_(const Tensor& t, double gain, Generator* gen) {
  check(t.dim() >= 2, "orthogonal_: needs at least 2 dims, got shape {}", t.shape());
  const std::int64_t rows = t.size(0), cols = t.numel() / rows;
  // Gram-Schmidt (modified, in double) on the rows or columns of a Gaussian matrix, whichever are
  // fewer: the result has orthonormal rows (rows <= cols) or orthonormal columns.
  const bool by_rows = rows <= cols;
  const std::int64_t k = by_rows ? rows : cols, len = by_rows ? cols : rows;
  std::vector<double> q(static_cast<std::size_t>(k * len));
  Generator& g = gen ? *gen : default_generator();
  for (auto& v : q) v = g.normal();
  for (std::int64_t i = 0; i < k; ++i) {
    double* qi = q.data() + i * len;
    for (std::int64_t j = 0; j < i; ++j) {
      const double* qj = q.data() + j * len;
      double dot = 0;
      for (std::int64_t e = 0; e < len; ++e) dot += qi[e] * qj[e];
      for (std::int64_t e = 0; e < len; ++e) qi[e] -= dot * qj[e];
    }
    double norm = 0;
    for (std::int64_t e = 0; e < len; ++e) norm += qi[e] * qi[e];
    norm = std::sqrt(norm);
    check(norm > 1e-12, "orthogonal_: degenerate random matrix; try another seed");
    // Unit length here: the projections onto q_i above assume it. The gain is applied after.
    for (std::int64_t e = 0; e < len; ++e) qi[e] /= norm;
  }
  for (auto& v : q) v *= gain;
  Tensor m = from_vector(q, {k, len});
  t.view({rows, cols}).copy_(by_rows ? m : m.t());
  return t;
}

}  // namespace seqgrad::nn::init
