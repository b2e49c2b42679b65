// Convolution as im2col + GEMM, and pooling. Shapes: N batch, C channels, H x W image,
// KH x KW kernel, OC output channels, OH x OW output; K = C*KH*KW values per output position.
//
// For each sample n (one GEMM each, writing straight into the NCHW output: no transposes):
//   forward:  cols [K, OH*OW] = im2col(x_n);   y_n [OC, OH*OW] = W [OC, K] @ cols (+ b)
//   backward: cols = im2col(x_n) again;  dW += gy_n @ cols^T;  dcols = W^T @ gy_n;
//             dx_n = col2im(dcols);  db = sum(gy)
// cols lives in one per-thread buffer of K x OH*OW values (225 KB for the CNN's second layer)
// that stays in L2, and is rebuilt in the backward pass rather than kept: keeping every sample's
// (14 MB for a batch of 64) meant writing it all out to memory and reading it back, which cost more
// than building it twice (bench_cnn's BM_conv_layer, docs/performance.md).
#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "autograd/node.h"
#include "nn/conv_winograd.h"
#include "nn/functional.h"
#include "tensor/packed_gemm.h"
#include "tensor/parallel.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace seqgrad::nn::functional {

namespace {

struct ConvGeometry {
  std::int64_t n, c, h, w, kh, kw, oh, ow;
  Conv2dOptions o;
  std::int64_t positions() const { return n * oh * ow; }
  std::int64_t patch() const { return c * kh * kw; }
};

// Output length of a window sliding over `in` padded on both sides; 0 when the (dilated) window
// does not fit. The span is checked first because C++ division truncates toward zero: a span of
// -1 with stride 2 would otherwise give 1 output reading outside the input (PyTorch: an error).
std::int64_t out_size(std::int64_t in, std::int64_t k, std::int64_t stride, std::int64_t pad,
                      std::int64_t dilation) {
  const std::int64_t span = in + 2 * pad - dilation * (k - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// With stride 1, output columns [lo, hi) read input columns x + x0 inside the image.
std::pair<std::int64_t, std::int64_t> valid_columns(const ConvGeometry& g, std::int64_t x0) {
  const std::int64_t lo = std::clamp<std::int64_t>(-x0, 0, g.ow);
  const std::int64_t hi = std::clamp<std::int64_t>(g.w - x0, lo, g.ow);
  return {lo, hi};
}

// Stride 1 and an output as wide as the input (a "same" convolution such as 3x3 with padding 1):
// then the rows of one im2col row are consecutive input rows shifted by a fixed offset, and the
// whole plane is one copy plus a zero at each row's edge. Per-row copies of 14 values were a
// memmove call each, a quarter of the CNN's second convolution (perf on bench_cnn).
bool contiguous_rows(const ConvGeometry& g) {
  return g.o.stride_h == 1 && g.o.stride_w == 1 && g.ow == g.w;
}

// out[y][x] = plane[y + y0][x + x0], or 0 outside the plane; for contiguous_rows(g) geometries.
template <class T>
void shifted_plane(const T* plane, T* out, const ConvGeometry& g, std::int64_t y0,
                   std::int64_t x0) {
  const std::int64_t first = std::clamp<std::int64_t>(-y0, 0, g.oh);  // rows inside: [first, last)
  const std::int64_t last = std::clamp<std::int64_t>(g.h - y0, first, g.oh);
  const auto [lo, hi] = valid_columns(g, x0);
  std::fill(out, out + first * g.ow, T(0));
  std::fill(out + last * g.ow, out + g.oh * g.ow, T(0));
  if (first == last) return;
  if (lo == hi) {
    std::fill(out + first * g.ow, out + last * g.ow, T(0));
    return;
  }
  // From (first, lo) to (last - 1, hi - 1) in one run: in between, each row's columns outside
  // [lo, hi) receive the neighbouring row's edge values, zeroed just after.
  // shift is an index offset, added before any pointer is formed: plane + y0 * w + x0 alone
  // would point outside the plane (before it, with padding), which C++ leaves undefined.
  const std::int64_t begin = first * g.ow + lo, end = (last - 1) * g.ow + hi;
  const std::int64_t shift = y0 * g.w + x0;
  std::copy(plane + (begin + shift), plane + (end + shift), out + begin);
  // Column by column: a column is usually one value per row, too short for a fill call per row.
  const auto zero_column = [&](std::int64_t x) {
    for (std::int64_t y = first; y < last; ++y) out[y * g.ow + x] = T(0);
  };
  for (std::int64_t x = 0; x < lo; ++x) zero_column(x);
  for (std::int64_t x = hi; x < g.ow; ++x) zero_column(x);
}

// Row k = (c*KH + i)*KW + j of one sample's im2col matrix, OH*OW values:
//   out[y*OW + x] = input[c][y*sh - ph + i*dh][x*sw - pw + j*dw], 0 in the padding.
template <class T>
void im2col_row(const T* in, std::int64_t k, const ConvGeometry& g, T* out) {
  const std::int64_t c = k / (g.kh * g.kw), i = k / g.kw % g.kh, j = k % g.kw;
  const T* plane = in + c * g.h * g.w;
  const std::int64_t x0 = j * g.o.dilation_w - g.o.pad_w;
  if (contiguous_rows(g)) {
    shifted_plane(plane, out, g, i * g.o.dilation_h - g.o.pad_h, x0);
    return;
  }
  for (std::int64_t y = 0; y < g.oh; ++y) {
    const std::int64_t iy = y * g.o.stride_h - g.o.pad_h + i * g.o.dilation_h;
    T* dst = out + y * g.ow;
    if (iy < 0 || iy >= g.h) {
      std::fill_n(dst, g.ow, T(0));
      continue;
    }
    const T* src = plane + iy * g.w;
    if (g.o.stride_w == 1) {  // zeros, one contiguous run, zeros
      const auto [lo, hi] = valid_columns(g, x0);
      std::fill(dst, dst + lo, T(0));
      std::copy(src + lo + x0, src + hi + x0, dst + lo);
      std::fill(dst + hi, dst + g.ow, T(0));
      continue;
    }
    for (std::int64_t x = 0; x < g.ow; ++x) {
      const std::int64_t ix = x * g.o.stride_w + x0;
      dst[x] = (ix >= 0 && ix < g.w) ? src[ix] : T(0);
    }
  }
}

// One sample's im2col matrix cols [K, OH*OW], rows `ld` values apart (0: OH*OW; more when the
// sample is one column block of a group's matrix, see samples_per_gemm).
template <class T>
void im2col(const T* in, T* cols, const ConvGeometry& g, std::int64_t ld = 0) {
  const std::int64_t row = ld > 0 ? ld : g.oh * g.ow;
  for (std::int64_t k = 0; k < g.patch(); ++k) im2col_row(in, k, g, cols + k * row);
}

// The same matrix written straight into the packed kernel's panel layout (tensor/packed_gemm.h),
// each row built in `row` (panels * kPanel values, zero past OH*OW) and dealt out 16 values per
// panel while it is in L1. Packing a finished cols instead would mean a second pass over it.
void im2col_panels(const float* in, const ConvGeometry& g, PackedMatrix& cols, float* row) {
  constexpr std::int64_t kPanel = PackedMatrix::kPanel;
  const std::int64_t K = g.patch();
  for (std::int64_t k = 0; k < K; ++k) {
    im2col_row(in, k, g, row);
    for (std::int64_t p = 0; p < cols.panels(); ++p)
      std::memcpy(cols.mutable_panel(p) + k * kPanel, row + p * kPanel, sizeof(float) * kPanel);
  }
}

// The adjoint of shifted_plane: plane[y + y0][x + x0] += rows[y][x] inside the plane. `rows` is
// scratch and is consumed: its entries that fall outside the plane's columns are zeroed, so that
// the rows can be added in one run (where they land on the neighbouring row's edge, they add 0).
template <class T>
void add_shifted_plane(T* rows, T* plane, const ConvGeometry& g, std::int64_t y0, std::int64_t x0) {
  const std::int64_t first = std::clamp<std::int64_t>(-y0, 0, g.oh);
  const std::int64_t last = std::clamp<std::int64_t>(g.h - y0, first, g.oh);
  const auto [lo, hi] = valid_columns(g, x0);
  if (first == last || lo == hi) return;
  const auto zero_column = [&](std::int64_t x) {
    for (std::int64_t y = first; y < last; ++y) rows[y * g.ow + x] = T(0);
  };
  for (std::int64_t x = 0; x < lo; ++x) zero_column(x);
  for (std::int64_t x = hi; x < g.ow; ++x) zero_column(x);
  const std::int64_t begin = first * g.ow + lo, end = (last - 1) * g.ow + hi;
  const std::int64_t shift = y0 * g.w + x0;  // an index offset, as in shifted_plane
  for (std::int64_t e = begin; e < end; ++e) plane[e + shift] += rows[e];
}

// The adjoint of im2col (one sample): every column entry is added back to the pixel it came from.
// `cols` is scratch and may be overwritten (see add_shifted_plane).
// Rows `ld` values apart, as in im2col.
template <class T>
void col2im(T* cols, T* in, const ConvGeometry& g, std::int64_t ld = 0) {
  const std::int64_t row = ld > 0 ? ld : g.oh * g.ow;
  for (std::int64_t k = 0; k < g.patch(); ++k) {
    const std::int64_t c = k / (g.kh * g.kw), i = k / g.kw % g.kh, j = k % g.kw;
    T* src_rows = cols + k * row;
    T* plane = in + c * g.h * g.w;
    const std::int64_t x0 = j * g.o.dilation_w - g.o.pad_w;
    if (contiguous_rows(g)) {
      add_shifted_plane(src_rows, plane, g, i * g.o.dilation_h - g.o.pad_h, x0);
      continue;
    }
    for (std::int64_t y = 0; y < g.oh; ++y) {
      const std::int64_t iy = y * g.o.stride_h - g.o.pad_h + i * g.o.dilation_h;
      if (iy < 0 || iy >= g.h) continue;
      T* dst = plane + iy * g.w;
      const T* src = src_rows + y * g.ow;
      if (g.o.stride_w == 1) {
        const auto [lo, hi] = valid_columns(g, x0);
        for (std::int64_t x = lo; x < hi; ++x) dst[x + x0] += src[x];
        continue;
      }
      for (std::int64_t x = 0; x < g.ow; ++x) {
        const std::int64_t ix = x * g.o.stride_w + x0;
        if (ix >= 0 && ix < g.w) dst[ix] += src[x];
      }
    }
  }
}

// Sum of n values with 8 independent partial sums: the compiler may then use SIMD lanes, which a
// single accumulator's strict left-to-right order forbids.
template <class T>
T row_sum(const T* v, std::int64_t n) {
  T lanes[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) lanes[l] += v[i + l];
  T total = 0;
  for (; i < n; ++i) total += v[i];
  for (const T lane : lanes) total += lane;
  return total;
}

// out = a @ b, or out += a @ b when `accumulate`: a [M, K] row-major, b [K, N] a fresh gradient
// matrix, used once. In float32 on seqgrad's packed kernel, single-threaded (the caller splits
// samples over threads): OpenBLAS packs b into panels on every call too, and its kernels ran
// these small per-sample shapes more slowly (docs/performance.md, the CNN section).
template <class T>
void product(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
  if constexpr (std::is_same_v<T, float>) {
    if (packed_gemm_available()) {
      gemm_packed(a, PackedMatrix(b), out, accumulate);
      return;
    }
  }
  gemm(a, b, out, 1.0, accumulate ? 1.0 : 0.0);
}

// Samples per GEMM. One sample's product W [OC, K] @ cols [K, OH*OW] reads all of W for OH*OW
// columns: fine for an image, but a Conv1d over a sentence has ~10 output positions, and its
// per-sample GEMMs spent their time reading W (grouping halved the training time of the cnn
// encoder, nn/conv_encoder.h). Below kShortOutput positions, samples are grouped into one matrix of
// about kGroupColumns columns (sample i = column block i), while leaving every thread a group.
std::int64_t samples_per_gemm(std::int64_t n, std::int64_t ohw) {
  constexpr std::int64_t kShortOutput = 64, kGroupColumns = 256;
  if (ohw >= kShortOutput || n < 2) return 1;
  const std::int64_t per_thread = (n + parallel_chunks(n) - 1) / parallel_chunks(n);
  return std::max<std::int64_t>(1, std::min((kGroupColumns + ohw - 1) / ohw, per_thread));
}

// The forward pass by groups of `group` samples: cols [K, cnt*OHW] of the group, one GEMM into
// out [OC, cnt*OHW], then each sample's block (+ bias) to its place in y [N, OC, OHW].
template <class T>
void conv_forward_grouped(const ConvGeometry& g, std::int64_t group, const Tensor& xin,
                          const Tensor& w2, const Tensor& b, const Tensor& y) {
  const std::int64_t OC = w2.size(0), K = w2.size(1), OHW = g.oh * g.ow;
  const std::int64_t in_sample = g.c * g.h * g.w, groups = (g.n + group - 1) / group;
  const PackedRows w_rows =
      std::is_same_v<T, float> && packed_gemm_available() ? PackedRows(w2) : PackedRows();
  parallel_for(groups, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t q = begin; q < end; ++q) {
      const std::int64_t n0 = q * group, cnt = std::min(group, g.n - n0), width = cnt * OHW;
      const Tensor cols = Tensor::empty({K, width}, xin.dtype());
      const Tensor out = Tensor::empty({OC, width}, xin.dtype());
      for (std::int64_t i = 0; i < cnt; ++i)
        im2col(xin.data<T>() + (n0 + i) * in_sample, cols.data<T>() + i * OHW, g, width);
      if (w_rows.rows() > 0)
        gemm_packed(w_rows, PackedMatrix(cols), out, false);
      else
        product<T>(w2, cols, out, false);
      const T* src = out.data<T>();
      for (std::int64_t i = 0; i < cnt; ++i)
        for (std::int64_t o = 0; o < OC; ++o) {
          const T* from = src + o * width + i * OHW;
          T* to = y.data<T>() + ((n0 + i) * OC + o) * OHW;
          const T bias = b.defined() ? b.data<T>()[o] : T(0);
          for (std::int64_t p = 0; p < OHW; ++p) to[p] = from[p] + bias;
        }
    }
  });
}

// Its backward, by the same groups: gy of the group gathered to [OC, cnt*OHW], then
// dW += gy_g @ cols^T, db += row sums of gy_g, dcols = W^T @ gy_g dealt back by col2im. gw and gb
// hold one partial sum per chunk of groups (undefined when not needed), gx is written.
template <class T>
void conv_backward_grouped(const ConvGeometry& g, std::int64_t group, const Tensor& xin,
                           const Tensor& wt, const Tensor& gy, std::vector<Tensor>& gw,
                           std::vector<Tensor>& gb, const Tensor& gx, bool need_w, bool need_b) {
  const std::int64_t OC = gy.size(1), K = g.patch(), OHW = g.oh * g.ow;
  const std::int64_t in_sample = g.c * g.h * g.w, groups = (g.n + group - 1) / group;
  const PackedRows wt_rows = gx.defined() && std::is_same_v<T, float> && packed_gemm_available()
                                 ? PackedRows(wt)
                                 : PackedRows();
  parallel_for_chunks(groups, [&](int chunk, std::int64_t begin, std::int64_t end) {
    const auto c = static_cast<std::size_t>(chunk);
    // dW^T accumulated, as in conv2d's per-sample backward (the cols^T it packed are the larger).
    const Tensor gwt = need_w ? Tensor::empty({K, OC}, gy.dtype()) : Tensor();
    if (need_b) gb[c] = zeros({OC}, gy.dtype());
    for (std::int64_t q = begin; q < end; ++q) {
      const std::int64_t n0 = q * group, cnt = std::min(group, g.n - n0), width = cnt * OHW;
      const Tensor gy_g = Tensor::empty({OC, width}, gy.dtype());
      for (std::int64_t i = 0; i < cnt; ++i)
        for (std::int64_t o = 0; o < OC; ++o)
          std::copy_n(gy.data<T>() + ((n0 + i) * OC + o) * OHW, OHW,
                      gy_g.data<T>() + o * width + i * OHW);
      if (need_w) {
        const Tensor cols = Tensor::empty({K, width}, gy.dtype());
        for (std::int64_t i = 0; i < cnt; ++i)
          im2col(xin.data<T>() + (n0 + i) * in_sample, cols.data<T>() + i * OHW, g, width);
        gemm(cols, gy_g.t(), gwt, 1.0, q == begin ? 0.0 : 1.0);
      }
      if (need_b) {
        T* db = gb[c].data<T>();
        for (std::int64_t o = 0; o < OC; ++o) db[o] += row_sum(gy_g.data<T>() + o * width, width);
      }
      if (gx.defined()) {
        const Tensor dcols = Tensor::empty({K, width}, gy.dtype());
        if (wt_rows.rows() > 0)
          gemm_packed(wt_rows, PackedMatrix(gy_g), dcols, false);
        else
          product<T>(wt, gy_g, dcols, false);
        for (std::int64_t i = 0; i < cnt; ++i) {
          T* gx_n = gx.data<T>() + (n0 + i) * in_sample;
          std::fill_n(gx_n, in_sample, T(0));
          col2im(dcols.data<T>() + i * OHW, gx_n, g, width);
        }
      }
    }
    if (need_w) gw[c] = gwt.t().contiguous();
  });
}

}  // namespace

Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias,
                const Conv2dOptions& o) {
  check(x.dim() == 4, "conv2d: input must be 4-D [N, C, H, W], got shape {}", x.shape());
  check(weight.dim() == 4, "conv2d: weight must be 4-D [OC, C, KH, KW], got shape {}",
        weight.shape());
  check(x.size(1) == weight.size(1),
        "conv2d: input has {} channels, weight expects {} (shapes {} "
        "and {})",
        x.size(1), weight.size(1), x.shape(), weight.shape());
  check(o.stride_h > 0 && o.stride_w > 0 && o.dilation_h > 0 && o.dilation_w > 0 && o.pad_h >= 0 &&
            o.pad_w >= 0,
        "conv2d: stride and dilation must be positive and padding non-negative");
  check(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)),
        "conv2d: bias of shape {} does not match {} output channels",
        bias.defined() ? bias.shape() : Dims{}, weight.size(0));
  check(x.dtype() == weight.dtype(), "conv2d: dtypes {} and {} differ", x.dtype(), weight.dtype());
  ConvGeometry g{x.size(0),      x.size(1), x.size(2), x.size(3), weight.size(2),
                 weight.size(3), 0,         0,         o};
  g.oh = out_size(g.h, g.kh, o.stride_h, o.pad_h, o.dilation_h);
  g.ow = out_size(g.w, g.kw, o.stride_w, o.pad_w, o.dilation_w);
  check(g.oh > 0 && g.ow > 0, "conv2d: kernel {}x{} does not fit input of shape {} (padding {}x{})",
        g.kh, g.kw, x.shape(), o.pad_h, o.pad_w);
  const std::int64_t OC = weight.size(0), OHW = g.oh * g.ow;

  const Tensor xin = x.value().contiguous();
  const std::int64_t K = g.patch(), in_sample = g.c * g.h * g.w;
  const Tensor w2 = weight.value().contiguous().reshape({OC, K});
  Tensor y = Tensor::empty({g.n, OC, OHW}, x.dtype());
  const Tensor b = bias.defined() ? bias.value().contiguous() : Tensor();
  const std::int64_t group = samples_per_gemm(g.n, OHW);
  const auto winograd = [&](std::int64_t channels) {
    return winograd_applies(channels, g.h, g.w, g.kh, g.kw, o, x.dtype());
  };
  const bool winograd_forward = winograd(g.c), winograd_input_grad = winograd(OC);
  // Samples are independent: split them over the threads, each running single-threaded GEMMs
  // that add onto the bias (each sample's rows filled with it first, while they are in cache).
  dispatch_floating(x.dtype(), "conv2d", [&]<class T>() {
    BlasSingleThreaded one_blas_thread;
    if (winograd_forward) {  // groups samples itself
      winograd_conv3x3(xin, WinogradFilters(weight.value(), false), b,
                       y.view({g.n, OC, g.oh, g.ow}));
      return;
    }
    if (group > 1) {
      conv_forward_grouped<T>(g, group, xin, w2, b, y);
      return;
    }
    constexpr bool kFloat = std::is_same_v<T, float>;
    const bool packed = kFloat && packed_gemm_available();
    // W in the kernel's left-operand layout once for the batch, not once per sample.
    const PackedRows w_rows = packed ? PackedRows(w2) : PackedRows();
    parallel_for(g.n, [&](std::int64_t begin, std::int64_t end) {
      PackedMatrix panels = packed ? PackedMatrix(K, OHW) : PackedMatrix();
      const Tensor cols = packed ? Tensor::empty({panels.panels() * PackedMatrix::kPanel}, kFloat32)
                                 : Tensor::empty({K, OHW}, x.dtype());
      if (packed) std::fill_n(cols.data<T>(), cols.numel(), T(0));  // the last panel's padding
      for (std::int64_t n = begin; n < end; ++n) {
        if (b.defined())
          for (std::int64_t o = 0; o < OC; ++o)
            std::fill_n(y.data<T>() + (n * OC + o) * OHW, OHW, b.data<T>()[o]);
        if constexpr (kFloat) {
          if (packed) {
            im2col_panels(xin.data<float>() + n * in_sample, g, panels, cols.data<float>());
            gemm_packed(w_rows, panels, y.select(0, n), b.defined());
            continue;
          }
        }
        im2col(xin.data<T>() + n * in_sample, cols.data<T>(), g);
        gemm(w2, cols, y.select(0, n), 1.0, b.defined() ? 1.0 : 0.0);
      }
    });
  });

  const bool has_bias = bias.defined();
  const Dims w_shape = weight.shape();
  // One pass over the samples, split over the threads: each thread accumulates its own partial
  // dW and db (summed afterwards) and writes the disjoint dx of its samples.
  auto backward = [g, xin, w2, OC, OHW, K, in_sample, has_bias, w_shape, group, winograd_forward,
                   winograd_input_grad](const Tensor& gy_in, GradSlots& dx) {
    const Tensor gy = gy_in.contiguous().view({g.n, OC, OHW});
    const bool need_b = has_bias && dx.needed(2);
    // The input gradient is the same convolution of gy by the turned kernels, and the weight
    // gradient the adjoint of the forward's transforms: both on Winograd's products when the
    // forward was, else in the loop below (dcols = W^T gy_n and col2im; dW += gy_n cols_n^T).
    const bool winograd_x = dx.needed(0) && winograd_input_grad;
    const bool winograd_w = dx.needed(1) && winograd_forward;
    const bool need_x = dx.needed(0) && !winograd_x, need_w = dx.needed(1) && !winograd_w;
    const int chunks = parallel_chunks(group > 1 ? (g.n + group - 1) / group : g.n);
    std::vector<Tensor> gw(static_cast<std::size_t>(chunks)), gb(gw.size());
    Tensor gx = need_x ? Tensor::empty({g.n, g.c, g.h, g.w}, gy.dtype()) : Tensor();
    const Tensor wt = need_x ? w2.t().contiguous() : Tensor();  // [K, OC], row-major for product
    dispatch_floating(gy.dtype(), "conv2d", [&]<class T>() {
      BlasSingleThreaded one_blas_thread;
      if (group > 1) {
        conv_backward_grouped<T>(g, group, xin, wt, gy, gw, gb, gx, need_w, need_b);
        return;
      }
      constexpr bool kFloat = std::is_same_v<T, float>;
      const PackedRows wt_rows =
          need_x && kFloat && packed_gemm_available() ? PackedRows(wt) : PackedRows();
      parallel_for_chunks(g.n, [&](int chunk, std::int64_t begin, std::int64_t end) {
        const auto c = static_cast<std::size_t>(chunk);
        // dW^T = sum_n cols_n @ gy_n^T, transposed into gw at the end: as dW = gy_n @ cols_n^T
        // the kernel repacked each sample's [OHW, K] cols^T, four times the values of gy_n^T.
        const Tensor gwt = need_w ? Tensor::empty({K, OC}, gy.dtype()) : Tensor();
        if (need_b) gb[c] = zeros({OC}, gy.dtype());
        const Tensor cols = need_w ? Tensor::empty({K, OHW}, gy.dtype()) : Tensor();
        const Tensor dcols = need_x ? Tensor::empty({K, OHW}, gy.dtype()) : Tensor();
        for (std::int64_t n = begin; n < end; ++n) {
          const Tensor gy_n = gy.select(0, n);
          if (need_w) {
            im2col(xin.data<T>() + n * in_sample, cols.data<T>(), g);
            gemm(cols, gy_n.t(), gwt, 1.0, n == begin ? 0.0 : 1.0);
          }
          if (need_b) {
            T* db = gb[c].data<T>();
            const T* src = gy_n.data<T>();
            for (std::int64_t o = 0; o < OC; ++o) {
              db[o] += row_sum(src + o * OHW, OHW);
            }
          }
          if (need_x) {
            if (wt_rows.rows() > 0)
              gemm_packed(wt_rows, PackedMatrix(gy_n), dcols, false);
            else
              product<T>(wt, gy_n, dcols, false);
            T* gx_n = gx.data<T>() + n * in_sample;
            std::fill_n(gx_n, in_sample, T(0));
            col2im(dcols.data<T>(), gx_n, g);
          }
        }
        if (need_w) gw[c] = gwt.t().contiguous();
      });
    });
    if (winograd_x) {
      gx = Tensor::empty({g.n, g.c, g.h, g.w}, gy.dtype());
      winograd_conv3x3(gy.view({g.n, OC, g.oh, g.ow}), WinogradFilters(w2.view(w_shape), true),
                       Tensor(), gx);
    }
    for (std::size_t c = 1; c < gw.size(); ++c) {
      if (need_w) gw[0].add_(gw[c]);
      if (need_b) gb[0].add_(gb[c]);
    }
    if (need_w) dx[1] += gw[0].view(w_shape);
    if (winograd_w) dx[1] += winograd_weight_grad(xin, gy.view({g.n, OC, g.oh, g.ow}));
    if (need_b) dx[2] += gb[0];
    if (gx.defined()) dx[0] += gx;
  };
  y = y.view({g.n, OC, g.oh, g.ow});
  if (has_bias) return record("conv2d", y, {x, weight, bias}, backward, {w2, xin});
  return record("conv2d", y, {x, weight}, backward, {w2, xin});
}

// A 1-D convolution is a 2-D one over a height-1 image.
Variable conv1d(const Variable& x, const Variable& weight, const Variable& bias,
                std::int64_t stride, std::int64_t padding, std::int64_t dilation) {
  check(x.dim() == 3, "conv1d: input must be 3-D [N, C, L], got shape {}", x.shape());
  check(weight.dim() == 3, "conv1d: weight must be 3-D [OC, C, K], got shape {}", weight.shape());
  // Checked here too, so that errors name conv1d and the 3-D shapes the caller passed.
  check(x.size(1) == weight.size(1),
        "conv1d: input has {} channels, weight expects {} (shapes {} "
        "and {})",
        x.size(1), weight.size(1), x.shape(), weight.shape());
  check(stride > 0 && dilation > 0 && padding >= 0,
        "conv1d: stride and dilation must be positive and padding non-negative");
  check(out_size(x.size(2), weight.size(2), stride, padding, dilation) > 0,
        "conv1d: kernel {} (dilation {}) does not fit input of shape {} (padding {})",
        weight.size(2), dilation, x.shape(), padding);
  Conv2dOptions o;
  o.stride_w = stride;
  o.pad_w = padding;
  o.dilation_w = dilation;
  return conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, o).squeeze(2);
}

namespace {

// Index of the larger of in[ia] and in[ib]: the first on ties; a NaN wins, as in PyTorch.
// Integer arithmetic instead of a conditional: the winner is unpredictable, a branch would miss.
template <class T>
std::int64_t larger(const T* in, std::int64_t ia, std::int64_t ib) {
  const T a = in[ia], b = in[ib];
  const auto take_b = static_cast<std::int64_t>(((b > a) | (b != b)) & (a == a));
  return ia + take_b * (ib - ia);
}

// One output row of 2x2 / stride 2 pooling, 8 outputs at a time (the last block masked, so that
// rows of 7 or 14 outputs, the CNN's, are covered too): the top and bottom input rows start at
// in + top and in + top + w. Same choice as larger() (first on ties, NaN wins), made in SIMD
// lanes instead of a scalar chain of three dependent selections per output. Each window's
// argmax is written as its code (window_code). Returns how many outputs it wrote; the caller does
// the rest (all of them without AVX2).
std::int64_t max_pool_2x2_row(const float* in, std::int64_t top, std::int64_t w, std::int64_t ow,
                              float* out, std::uint8_t* code) {
#if defined(__AVX2__)
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const auto lanes_below = [&](std::int64_t n) {  // all ones in lanes 0 .. n-1
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), lane);
  };
  // b replaces a when it is larger or NaN, and a is not NaN.
  const auto take = [](__m256 a, __m256 b) {
    const __m256 wins =
        _mm256_or_ps(_mm256_cmp_ps(b, a, _CMP_GT_OQ), _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
    return _mm256_and_ps(wins, _mm256_cmp_ps(a, a, _CMP_ORD_Q));
  };
  // Even and odd columns of 16 consecutive floats (the first `valid` of them read), in order.
  const auto split = [&](const float* row, std::int64_t valid, __m256& even, __m256& odd) {
    const __m256 lo =
        valid >= 16 ? _mm256_loadu_ps(row) : _mm256_maskload_ps(row, lanes_below(valid));
    const __m256 hi = valid >= 16 ? _mm256_loadu_ps(row + 8)
                                  : _mm256_maskload_ps(row + 8, lanes_below(valid - 8));
    even = _mm256_castpd_ps(
        _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0))),
                              _MM_SHUFFLE(3, 1, 2, 0)));
    odd = _mm256_castpd_ps(
        _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))),
                              _MM_SHUFFLE(3, 1, 2, 0)));
  };
  const __m256i one = _mm256_set1_epi32(1), two = _mm256_set1_epi32(2);
  for (std::int64_t ox = 0; ox < ow; ox += 8) {
    const std::int64_t n = std::min<std::int64_t>(8, ow - ox);
    __m256 a, b, c, d;
    split(in + top + 2 * ox, 2 * n, a, b);
    split(in + top + w + 2 * ox, 2 * n, c, d);
    const __m256 tb = take(a, b), td = take(c, d);
    const __m256 m1 = _mm256_blendv_ps(a, b, tb), m2 = _mm256_blendv_ps(c, d, td);
    const __m256 t2 = take(m1, m2), best = _mm256_blendv_ps(m1, m2, t2);
    // Code: +1 for the right column, +2 for the bottom row.
    const __m256i code1 = _mm256_and_si256(_mm256_castps_si256(tb), one);
    const __m256i code2 = _mm256_add_epi32(two, _mm256_and_si256(_mm256_castps_si256(td), one));
    const __m256i lanes_code = _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(code1), _mm256_castsi256_ps(code2), t2));
    // Eight 32-bit codes to eight bytes.
    const __m128i words = _mm_packus_epi32(_mm256_castsi256_si128(lanes_code),
                                           _mm256_extracti128_si256(lanes_code, 1));
    const __m128i bytes = _mm_packus_epi16(words, words);
    if (n == 8) {
      _mm256_storeu_ps(out + ox, best);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(code + ox), bytes);
    } else {
      _mm256_maskstore_ps(out + ox, lanes_below(n), best);
      alignas(16) std::uint8_t all[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(all), bytes);
      std::memcpy(code + ox, all, static_cast<std::size_t>(n));
    }
  }
  return ow;
#else
  (void)in, (void)top, (void)w, (void)ow, (void)out, (void)code;
  return 0;
#endif
}

struct PoolGeometry {
  std::int64_t planes, h, w, k, stride, pad, oh, ow;
};

PoolGeometry pool_geometry(const Variable& x, std::int64_t kernel, std::int64_t stride,
                           std::int64_t padding, const char* op) {
  check(x.dim() == 4, "{}: input must be 4-D [N, C, H, W], got shape {}", op, x.shape());
  check(kernel > 0, "{}: kernel size must be positive, got {}", op, kernel);
  if (stride == 0) stride = kernel;
  check(stride > 0, "{}: stride must be positive, got {}", op, stride);
  check(padding >= 0 && 2 * padding <= kernel,
        "{}: padding {} must be between 0 and half the kernel size {}", op, padding, kernel);
  PoolGeometry g{x.size(0) * x.size(1), x.size(2), x.size(3), kernel, stride, padding, 0, 0};
  g.oh = out_size(g.h, kernel, stride, padding, 1);
  g.ow = out_size(g.w, kernel, stride, padding, 1);
  check(g.oh > 0 && g.ow > 0, "{}: kernel {} does not fit input of shape {}", op, kernel,
        x.shape());
  return g;
}

// A 2x2 window's argmax as one byte: 0 top left, 1 top right, 2 bottom left, 3 bottom right. A
// byte instead of the int64 input index of the general path: the CNN's first pooling reads 6.4 MB
// and wrote 3.2 MB of indices besides its 1.6 MB output, which its backward read again.
std::uint8_t window_code(std::int64_t offset, std::int64_t w) {  // offset from the top left
  return static_cast<std::uint8_t>(offset >= w ? 2 + (offset - w) : offset);
}

// The backward pass of 2x2 / stride 2 pooling over planes [first, last): the windows do not
// overlap, so every input gradient is written once, in one pass (gy at the window's argmax, 0 at
// its other three places, 0 in an odd last row or column no window covers). A fill of the whole
// gradient followed by a scatter would be two passes over it.
template <class T>
void unpool_2x2(const T* gy, const std::uint8_t* code, T* gx, const PoolGeometry& g,
                std::int64_t first, std::int64_t last) {
  for (std::int64_t p = first; p < last; ++p) {
    T* plane = gx + p * g.h * g.w;
    for (std::int64_t oy = 0; oy < g.oh; ++oy) {
      T* top = plane + 2 * oy * g.w;
      std::fill_n(top, 2 * g.w, T(0));  // two input rows, in cache for the writes below
      const std::int64_t o = (p * g.oh + oy) * g.ow;
      for (std::int64_t ox = 0; ox < g.ow; ++ox) {
        const std::uint8_t c = code[o + ox];
        top[2 * ox + (c & 1) + (c >> 1) * g.w] = gy[o + ox];
      }
    }
    std::fill(plane + 2 * g.oh * g.w, plane + g.h * g.w, T(0));  // an odd last row
  }
}

}  // namespace

// y = max over each window;  dx[argmax] += gy (the argmax of each window is saved)
Variable max_pool2d(const Variable& x, std::int64_t kernel, std::int64_t stride,
                    std::int64_t padding) {
  const PoolGeometry g = pool_geometry(x, kernel, stride, padding, "max_pool2d");
  const Tensor xin = x.value().contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1), g.oh, g.ow}, x.dtype());
  const std::int64_t outputs = y.numel();
  const bool two_by_two = g.k == 2 && g.stride == 2 && g.pad == 0;  // the usual pooling
  // The argmax of each window: its window_code for 2x2 pooling (bytes, stored eight to an int64
  // element: the tensor library has no byte dtype), else its input index.
  const Tensor argmax = Tensor::empty({two_by_two ? (outputs + 7) / 8 : outputs}, kInt64);
  dispatch_floating(x.dtype(), "max_pool2d", [&]<class T>() {
    const T* in = xin.data<T>();
    T* out = y.data<T>();
    std::int64_t* arg = argmax.data<std::int64_t>();
    if (two_by_two) {  // no bounds checks
      auto* code = reinterpret_cast<std::uint8_t*>(arg);
      parallel_for(g.planes, [&](std::int64_t first, std::int64_t last) {
        for (std::int64_t p = first; p < last; ++p)
          for (std::int64_t oy = 0; oy < g.oh; ++oy) {
            const std::int64_t top = (p * g.h + 2 * oy) * g.w, o = (p * g.oh + oy) * g.ow;
            std::int64_t ox = 0;
            if constexpr (std::is_same_v<T, float>)
              ox = max_pool_2x2_row(in, top, g.w, g.ow, out + o, code + o);
            for (; ox < g.ow; ++ox) {
              const std::int64_t i0 = top + 2 * ox, i2 = i0 + g.w;
              const std::int64_t i = larger(in, larger(in, i0, i0 + 1), larger(in, i2, i2 + 1));
              out[o + ox] = in[i];
              code[o + ox] = window_code(i - i0, g.w);
            }
          }
      });
      return;
    }
    for (std::int64_t p = 0; p < g.planes; ++p)
      for (std::int64_t oy = 0; oy < g.oh; ++oy)
        for (std::int64_t ox = 0; ox < g.ow; ++ox) {
          T best = -std::numeric_limits<T>::infinity();
          std::int64_t where = -1;
          for (std::int64_t i = 0; i < g.k; ++i) {
            const std::int64_t iy = oy * g.stride - g.pad + i;
            if (iy < 0 || iy >= g.h) continue;
            for (std::int64_t j = 0; j < g.k; ++j) {
              const std::int64_t ix = ox * g.stride - g.pad + j;
              if (ix < 0 || ix >= g.w) continue;
              const T v = in[(p * g.h + iy) * g.w + ix];
              if (v > best || v != v || where < 0) {
                best = v;
                where = (p * g.h + iy) * g.w + ix;
                if (v != v) break;
              }
            }
          }
          const std::int64_t o = (p * g.oh + oy) * g.ow + ox;
          out[o] = best;
          arg[o] = where;
        }
  });
  const Dims in_shape = x.shape();
  // Each window's argmax lies in its own (sample, channel) plane: planes are split over threads.
  const std::int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
  return record(
      "max_pool2d", y, {x},
      [argmax, in_shape, g, in_plane, out_plane, two_by_two](const Tensor& gy, GradSlots& dx) {
        Tensor gx = Tensor::empty(in_shape, gy.dtype());
        const Tensor gyc = gy.contiguous();
        dispatch_floating(gy.dtype(), "max_pool2d", [&]<class T>() {
          const T* src = gyc.data<T>();
          T* dst = gx.data<T>();
          const std::int64_t* arg = argmax.data<std::int64_t>();
          parallel_for(g.planes, [&](std::int64_t first, std::int64_t last) {
            if (two_by_two) {
              unpool_2x2(src, reinterpret_cast<const std::uint8_t*>(arg), dst, g, first, last);
              return;
            }
            std::fill(dst + first * in_plane, dst + last * in_plane, T(0));
            for (std::int64_t o = first * out_plane; o < last * out_plane; ++o)
              dst[arg[o]] += src[o];
          });
        });
        dx[0] += gx;
      });
}

// y = mean over each window, padding counted as zeros (PyTorch's count_include_pad=True);
// dx += gy / k^2 over each window.
Variable avg_pool2d(const Variable& x, std::int64_t kernel, std::int64_t stride,
                    std::int64_t padding) {
  const PoolGeometry g = pool_geometry(x, kernel, stride, padding, "avg_pool2d");
  const Tensor xin = x.value().contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1), g.oh, g.ow}, x.dtype());
  // Visits every (output, input) pair of the windows: f(output index, input index).
  auto each_window = [g](auto&& f) {
    for (std::int64_t p = 0; p < g.planes; ++p)
      for (std::int64_t oy = 0; oy < g.oh; ++oy)
        for (std::int64_t ox = 0; ox < g.ow; ++ox)
          for (std::int64_t i = 0; i < g.k; ++i) {
            const std::int64_t iy = oy * g.stride - g.pad + i;
            if (iy < 0 || iy >= g.h) continue;
            for (std::int64_t j = 0; j < g.k; ++j) {
              const std::int64_t ix = ox * g.stride - g.pad + j;
              if (ix >= 0 && ix < g.w) f((p * g.oh + oy) * g.ow + ox, (p * g.h + iy) * g.w + ix);
            }
          }
  };
  const double scale = 1.0 / static_cast<double>(g.k * g.k);
  dispatch_floating(x.dtype(), "avg_pool2d", [&]<class T>() {
    const T* in = xin.data<T>();
    T* out = y.data<T>();
    std::fill_n(out, y.numel(), T(0));
    each_window([&](std::int64_t o, std::int64_t i) { out[o] += in[i]; });
    for (std::int64_t o = 0, n = y.numel(); o < n; ++o) out[o] *= static_cast<T>(scale);
  });
  const Dims in_shape = x.shape();
  return record(
      "avg_pool2d", y, {x}, [in_shape, each_window, scale](const Tensor& gy, GradSlots& dx) {
        Tensor gx = zeros(in_shape, gy.dtype());
        const Tensor gyc = gy.contiguous();
        dispatch_floating(gy.dtype(), "avg_pool2d", [&]<class T>() {
          const T* src = gyc.data<T>();
          T* dst = gx.data<T>();
          each_window(
              [&](std::int64_t o, std::int64_t i) { dst[i] += src[o] * static_cast<T>(scale); });
        });
        dx[0] += gx;
      });
}

}  // namespace seqgrad::nn::functional
