// Dense layers' functional forms: linear, embedding, dropout, layer_norm, gelu.
#include <cmath>
#include <numbers>

#include "autograd/node.h"
#include "nn/functional.h"
#include "tensor/iterate.h"

namespace seqgrad::nn::functional {

// y = x W^T + b over the last dim of x. One node: the GEMMs read W through BLAS's transpose flag.
//   dx = gy W,  dW = gy^T x,  db = sum of gy over all rows
Variable linear(const Variable& x, const Variable& weight, const Variable& bias) {
  check(weight.dim() == 2, "linear: weight must be 2-D [out, in], got shape {}", weight.shape());
  check(x.dim() >= 1 && x.size(-1) == weight.size(1),
        "linear: input of shape {} does not end in in_features = {} (weight shape {})", x.shape(),
        weight.size(1), weight.shape());
  check(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)),
        "linear: bias of shape {} does not match out_features = {}",
        bias.defined() ? bias.shape() : Dims{}, weight.size(0));
  check(!bias.defined() || bias.dtype() == weight.dtype(),
        "linear: bias dtype {} differs from the weight's {}",
        bias.defined() ? bias.dtype() : weight.dtype(), weight.dtype());
  const std::int64_t in = weight.size(1), out = weight.size(0);
  const Tensor x2 = x.value().reshape({-1, in}), w = weight.value();
  Tensor y2 = Tensor::empty({x2.size(0), out}, x.dtype());
  if (bias.defined()) {
    addmm(bias.value(), x2, w.t(), y2);
  } else {
    gemm(x2, w.t(), y2);
  }
  Dims out_shape = x.shape();
  out_shape[out_shape.size() - 1] = out;
  const Dims x_shape = x.shape();
  const bool has_bias = bias.defined();
  auto backward = [x2, w, x_shape, out, has_bias](const Tensor& gy, GradSlots& dx) {
    const Tensor g2 = gy.reshape({-1, out});
    if (dx.needed(0)) dx[0] += matmul(g2, w).view(x_shape);
    if (dx.needed(1)) dx[1] += matmul(g2.t(), x2);
    if (has_bias && dx.needed(2)) dx[2] += sum(g2, {0});
  };
  if (bias.defined())
    return record("linear", y2.view(out_shape), {x, weight, bias}, backward, {x2, w});
  return record("linear", y2.view(out_shape), {x, weight}, backward, {x2, w});
}

// y[i] = weight[ids[i]];  dweight[ids[i]] += gy[i] (skipping padding_idx)
Variable embedding(const Tensor& ids, const Variable& weight,
                   std::optional<std::int64_t> padding_idx) {
  check_defined(ids, "embedding");
  check(ids.dtype() == kInt64, "embedding: ids must be int64, got {}", ids.dtype());
  check(weight.dim() == 2, "embedding: weight must be 2-D [num, dim], got shape {}",
        weight.shape());
  // As in torch.nn.functional.embedding: a negative padding_idx counts from the end (it would
  // otherwise match no id and the padding row would be trained), and it must name a row.
  if (padding_idx) {
    check(*padding_idx >= -weight.size(0) && *padding_idx < weight.size(0),
          "embedding: padding_idx {} is out of range for {} embeddings", *padding_idx,
          weight.size(0));
    if (*padding_idx < 0) *padding_idx += weight.size(0);
  }
  const Tensor flat = ids.reshape({-1});
  Dims out_shape = ids.shape();
  out_shape.push_back(weight.size(1));
  const Tensor y = index_select(weight.value(), 0, flat).view(out_shape);
  const Dims w_shape = weight.shape();
  return record(
      "embedding", y, {weight}, [flat, w_shape, padding_idx](const Tensor& gy, GradSlots& dx) {
        Tensor rows = gy.reshape({-1, w_shape[1]});
        if (padding_idx)
          rows = masked_fill(rows, eq(flat, static_cast<double>(*padding_idx)).unsqueeze(1), 0.0);
        Tensor g = zeros(w_shape, gy.dtype());
        index_add_(g, 0, flat, rows.contiguous());
        dx[0] += g;
      });
}

// y = x * m / (1 - p) with m ~ Bernoulli(1 - p): the product rule gives the backward.
Variable dropout(const Variable& x, double p, bool training, Generator* gen) {
  check(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got {}", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return x * 0.0;
  const Tensor keep = lt(rand(x.shape(), x.dtype(), gen), 1.0 - p).to(x.dtype());
  return x * Variable(keep * (1.0 / (1.0 - p)));
}

// Composed from differentiable ops: no backward code needed.
Variable layer_norm(const Variable& x, const Dims& normalized_shape, const Variable& weight,
                    const Variable& bias, double eps) {
  const int k = normalized_shape.size();
  check(k >= 1 && k <= x.dim(), "layer_norm: normalized_shape {} does not fit input of shape {}",
        normalized_shape, x.shape());
  Dims dims;
  for (int i = 0; i < k; ++i) {
    check(x.size(x.dim() - k + i) == normalized_shape[i],
          "layer_norm: input of shape {} does not end in normalized_shape {}", x.shape(),
          normalized_shape);
    dims.push_back(x.dim() - k + i);
  }
  const Variable centered = x - mean(x, dims, /*keepdim=*/true);
  const Variable var = mean(centered * centered, dims, /*keepdim=*/true);
  Variable y = centered / sqrt(var + eps);
  if (weight.defined()) y = y * weight;
  if (bias.defined()) y = y + bias;
  return y;
}

// y = x Phi(x);  dx = gy (Phi(x) + x phi(x)), with Phi, phi the standard normal cdf and pdf.
Variable gelu(const Variable& x) {
  const Tensor xv = x.value();
  Tensor y = Tensor::empty(xv.shape(), xv.dtype());
  dispatch_floating(xv.dtype(), "gelu", [&]<class T>() {
    seqgrad::detail::map1<T, T>(y, xv, "gelu", [](T v) {
      return static_cast<T>(0.5 * v * (1.0 + std::erf(v * std::numbers::sqrt2 / 2)));
    });
  });
  return record("gelu", y, {x},
                [xv](const Tensor& gy, GradSlots& dx) {
                  Tensor d = Tensor::empty(xv.shape(), xv.dtype());
                  dispatch_floating(xv.dtype(), "gelu", [&]<class T>() {
                    seqgrad::detail::map1<T, T>(d, xv, "gelu", [](T v) {
                      const double cdf = 0.5 * (1.0 + std::erf(v * std::numbers::sqrt2 / 2));
                      const double pdf = std::exp(-0.5 * v * v) / std::sqrt(2 * std::numbers::pi);
                      return static_cast<T>(cdf + v * pdf);
                    });
                  });
                  dx[0] += gy * d;
                },
                {xv});
}

}  // namespace seqgrad::nn::functional
