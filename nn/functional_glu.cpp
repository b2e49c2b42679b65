// The gated linear unit of Dauphin et al. (2017), as torch.nn.functional.glu: x split in halves
// a, b along `dim`, y = a * sigmoid(b). One node instead of narrow, sigmoid and mul: the
// convolutional encoder runs it on every layer's output, and the composed form would make two
// narrowed copies and two more passes over them in each direction.
//
// Seen contiguous, x is [outer, 2, n] (n = half the dim times everything after it), so a and b
// are two runs of n values per outer index:
//   forward:  y = a * s,  s = sigmoid(b)
//   backward: da = gy * s,  db = gy * a * s * (1 - s)
// Under create_graph the backward is the same formula composed from autograd ops (narrow,
// sigmoid, cat), so that it can be differentiated again.
#include <cmath>
#include <type_traits>

#include "autograd/node.h"
#include "nn/functional.h"
#include "tensor/vecmath.h"

namespace seqgrad::nn::functional {

namespace {
// float32 through vecmath's vectorisable sigmoid; float64 (gradchecks) through the C library.
template <class T>
[[gnu::always_inline]] inline T sigmoid_of(T v) {
  if constexpr (std::is_same_v<T, float>)
    return vecmath::sigmoid(v);
  else
    return T(1) / (T(1) + std::exp(-v));
}
}  // namespace

Variable glu(const Variable& x, std::int64_t dim) {
  const int d = normalize_dim(dim, static_cast<int>(x.dim()), "glu");
  check(x.size(d) % 2 == 0, "glu: dim {} of shape {} must have an even size, got {}", dim,
        x.shape(), x.size(d));
  Dims out_shape = x.shape();
  out_shape[static_cast<std::size_t>(d)] /= 2;
  std::int64_t outer = 1, n = out_shape[static_cast<std::size_t>(d)];
  for (int i = 0; i < d; ++i) outer *= x.size(i);
  for (int i = d + 1; i < static_cast<int>(x.dim()); ++i) n *= x.size(i);

  const Tensor xv = x.value().contiguous();
  Tensor y = Tensor::empty(out_shape, xv.dtype());
  dispatch_floating(xv.dtype(), "glu", [&]<class T>() {
    const T* in = xv.data<T>();
    T* out = y.data<T>();
    for (std::int64_t o = 0; o < outer; ++o) {
      const T* a = in + 2 * o * n;
      const T* b = a + n;
      T* yo = out + o * n;
      for (std::int64_t i = 0; i < n; ++i) yo[i] = a[i] * sigmoid_of(b[i]);
    }
  });
  const std::int64_t half = out_shape[static_cast<std::size_t>(d)];
  return record("glu", y, {x},
                [x, xv, outer, n, d, half](const auto& gy_in, auto& dx) {
                  if constexpr (!on_tensors<decltype(gy_in)>) {
                    const Variable a = x.narrow(d, 0, half), s = sigmoid(x.narrow(d, half, half));
                    dx[0] += cat({gy_in * s, gy_in * a * s * (1.0 - s)}, d);
                  } else {
                    const Tensor gy = gy_in.contiguous();
                    Tensor gx = Tensor::empty(xv.shape(), xv.dtype());
                    dispatch_floating(xv.dtype(), "glu", [&]<class T>() {
                      const T* in = xv.data<T>();
                      const T* g = gy.data<T>();
                      T* out = gx.data<T>();
                      for (std::int64_t o = 0; o < outer; ++o) {
                        const T* a = in + 2 * o * n;
                        const T* b = a + n;
                        const T* go = g + o * n;
                        T* da = out + 2 * o * n;
                        T* db = da + n;
                        for (std::int64_t i = 0; i < n; ++i) {
                          const T s = sigmoid_of(b[i]);
                          da[i] = go[i] * s;
                          db[i] = go[i] * a[i] * s * (T(1) - s);
                        }
                      }
                    });
                    dx[0] += std::move(gx);
                  }
                },
                {xv});
}

}  // namespace seqgrad::nn::functional
