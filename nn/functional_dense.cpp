// Dense layers' functional forms: linear, embedding, dropout, layer_norm, gelu.
#include <cmath>
#include <numbers>

#include "autograd/node.h"
#include "nn/functional.h"
#include "tensor/iterate.h"
#include "tensor/parallel.h"

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
  // Written generically (autograd/ops_elementwise.cpp says how): twice differentiable.
  auto backward = [x, weight, x_shape, in, out, has_bias](const auto& gy, auto& dx) {
    const auto g2 = gy.reshape({-1, out});
    if (dx.needed(0)) dx[0] += matmul(g2, dx.saved(weight)).view(x_shape);
    if (dx.needed(1)) dx[1] += matmul(g2.t(), dx.saved(x).reshape({-1, in}));
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
  return record("embedding", y, {weight}, [flat, w_shape, padding_idx](const auto& gy, auto& dx) {
    auto rows = gy.reshape({-1, w_shape[1]});
    if (padding_idx)
      rows = masked_fill(rows, eq(flat, static_cast<double>(*padding_idx)).unsqueeze(1), 0.0);
    dx[0] += index_select_backward(rows, w_shape, 0, flat);
  });
}

// y = x * m / (1 - p) with m ~ Bernoulli(1 - p): the product rule gives the backward.
Variable dropout(const Variable& x, double p, bool training, Generator* gen) {
  check(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got {}", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return x * 0.0;
  return x * Variable(dropout_mask(x.shape(), p, x.dtype(), gen));
}

// One node over rows of C = prod(normalized_shape) values (r = 1 / sqrt(var + eps), the variance
// biased, as PyTorch's):
//   forward   xhat = (x - mean(x)) r,  y = xhat w + b
//   backward  gw = gy w,  dx = r (gw - mean(gw) - xhat mean(gw xhat)),
//             dw = sum over rows of gy xhat,  db = sum over rows of gy
// Composed from elementwise ops it was 7 nodes and about 20 passes over x; here it is one pass
// forward and two backward, rows split over threads (weight gradients summed per chunk).
Variable layer_norm(const Variable& x, const Dims& normalized_shape, const Variable& weight,
                    const Variable& bias, double eps) {
  const int k = normalized_shape.size();
  check(k >= 1 && k <= x.dim(), "layer_norm: normalized_shape {} does not fit input of shape {}",
        normalized_shape, x.shape());
  std::int64_t C = 1;
  for (int i = 0; i < k; ++i) {
    check(x.size(x.dim() - k + i) == normalized_shape[i],
          "layer_norm: input of shape {} does not end in normalized_shape {}", x.shape(),
          normalized_shape);
    C *= normalized_shape[i];
  }
  for (const Variable* p : {&weight, &bias})
    if (p->defined())
      check(p->shape() == normalized_shape && p->dtype() == x.dtype(),
            "layer_norm: weight and bias must be {} {}, got {} {}", x.dtype(), normalized_shape,
            p->shape(), p->dtype());
  const Tensor xv = x.value().contiguous();
  const std::int64_t R = C == 0 ? 0 : xv.numel() / C;
  Tensor y = Tensor::empty(x.shape(), x.dtype()), xhat = Tensor::empty({R, C}, x.dtype()),
         rstd = Tensor::empty({R}, x.dtype());
  const Tensor w = weight.defined() ? weight.value().contiguous() : Tensor(),
               b = bias.defined() ? bias.value().contiguous() : Tensor();
  dispatch_floating(x.dtype(), "layer_norm", [&]<class T>() {
    const T* in = xv.data<T>();
    const T* wp = w.defined() ? w.data<T>() : nullptr;
    const T* bp = b.defined() ? b.data<T>() : nullptr;
    T *out = y.data<T>(), *xh = xhat.data<T>(), *rs = rstd.data<T>();
    parallel_for_chunks(R, [&](int, std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {
        const T* row = in + r * C;
        T mu = 0, var = 0;
        for (std::int64_t c = 0; c < C; ++c) mu += row[c];
        mu /= static_cast<T>(C);
        for (std::int64_t c = 0; c < C; ++c) var += (row[c] - mu) * (row[c] - mu);
        const T inv = T(1) / std::sqrt(var / static_cast<T>(C) + static_cast<T>(eps));
        rs[r] = inv;
        T* h = xh + r * C;
        T* o = out + r * C;
        for (std::int64_t c = 0; c < C; ++c) {
          h[c] = (row[c] - mu) * inv;
          o[c] = h[c] * (wp ? wp[c] : T(1)) + (bp ? bp[c] : T(0));
        }
      }
    });
  });
  const Dims x_shape = x.shape();
  const bool has_w = weight.defined(), has_b = bias.defined();
  const int w_slot = 1, b_slot = has_w ? 2 : 1;
  auto backward = [xhat, rstd, w, x_shape, normalized_shape, R, C, has_w, has_b, w_slot, b_slot](
                      const Tensor& gy, GradSlots& dx) {
    const Tensor g = gy.contiguous();
    const bool want_x = dx.needed(0), want_w = has_w && dx.needed(w_slot),
               want_b = has_b && dx.needed(b_slot);
    Tensor gx = want_x ? Tensor::empty(x_shape, g.dtype()) : Tensor();
    // Per chunk of rows: partial sums of the weight's and the bias's gradients, reduced below.
    const Tensor partial = zeros({parallel_chunks(R), 2, C}, g.dtype());
    dispatch_floating(g.dtype(), "layer_norm", [&]<class T>() {
      const T* gp = g.data<T>();
      const T* xh = xhat.data<T>();
      const T* rs = rstd.data<T>();
      const T* wp = has_w ? w.data<T>() : nullptr;
      T* out = want_x ? gx.data<T>() : nullptr;
      T* part = partial.data<T>();
      parallel_for_chunks(R, [&](int chunk, std::int64_t r0, std::int64_t r1) {
        T* dw = part + chunk * 2 * C;
        T* db = dw + C;
        for (std::int64_t r = r0; r < r1; ++r) {
          const T* gr = gp + r * C;
          const T* h = xh + r * C;
          T mean_gw = 0, mean_gwh = 0;
          for (std::int64_t c = 0; c < C; ++c) {
            const T gw = gr[c] * (wp ? wp[c] : T(1));
            mean_gw += gw;
            mean_gwh += gw * h[c];
            dw[c] += gr[c] * h[c];
            db[c] += gr[c];
          }
          if (!out) continue;
          mean_gw /= static_cast<T>(C);
          mean_gwh /= static_cast<T>(C);
          T* o = out + r * C;
          for (std::int64_t c = 0; c < C; ++c)
            o[c] = rs[r] * (gr[c] * (wp ? wp[c] : T(1)) - mean_gw - h[c] * mean_gwh);
        }
      });
    });
    if (want_x) dx[0] += std::move(gx);
    if (want_w || want_b) {
      const Tensor sums = sum(partial, {0});  // [2, C]
      if (want_w) dx[w_slot] += sums.select(0, 0).reshape(normalized_shape);
      if (want_b) dx[b_slot] += sums.select(0, 1).reshape(normalized_shape);
    }
  };
  if (has_w && has_b) return record("layer_norm", y, {x, weight, bias}, backward, {xhat, rstd});
  if (has_w) return record("layer_norm", y, {x, weight}, backward, {xhat, rstd});
  if (has_b) return record("layer_norm", y, {x, bias}, backward, {xhat, rstd});
  return record("layer_norm", y, {x}, backward, {xhat, rstd});
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
