#include "nn/conv_winograd.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "tensor/creation.h"
#include "tensor/parallel.h"

namespace seqgrad::nn::functional {

namespace {

constexpr std::int64_t kPanel = PackedMatrix::kPanel;
// Tiles of one row of the image are padded to a multiple of 8 columns of the products: each row's
// transforms are then 8-wide vectors stored in aligned halves of the kernel's 16-wide panels, at
// the price of a few columns of zeros (7 tiles -> 8 for the CNN's 14 x 14 images).
constexpr std::int64_t kRowAlign = 8;
// Columns per product: samples are grouped so that the 16 products have about this many, enough
// to keep the kernel's tiles full while V (16 x C x columns) and M (16 x OC x columns) stay in L2.
constexpr std::int64_t kTargetColumns = 128;

std::int64_t round_up(std::int64_t v, std::int64_t m) { return (v + m - 1) / m * m; }

bool winograd_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("SEQGRAD_WINOGRAD");
    return v == nullptr || std::string_view(v) != "0";
  }();
  return enabled;
}

// Where each sample's tiles sit among the columns of the 16 products, and how the batch is grouped.
struct Layout {
  std::int64_t h, w, th, tw, row;       // image, tiles down and across, padded tiles per row
  std::int64_t group, columns, groups;  // samples per product, their columns, products per pass
  std::int64_t per_sample() const { return th * row; }
};

// Eight floats, one tile per lane (GCC's vector extension: AVX where the build has it, pairs of
// SSE registers otherwise). Written out because the compiler, left to vectorise the scalar loops,
// put the four rows of one tile into a vector and gathered them value by value.
typedef float v8 __attribute__((vector_size(32)));
static_assert(kRowAlign == 8);
using lanes = int __attribute__((vector_size(32)));

// Shuffle masks: the even and odd lanes of two vectors, and two vectors interleaved.
constexpr lanes kEven = {0, 2, 4, 6, 8, 10, 12, 14}, kOdd = {1, 3, 5, 7, 9, 11, 13, 15};
constexpr lanes kLow = {0, 8, 1, 9, 2, 10, 3, 11}, kHigh = {4, 12, 5, 13, 6, 14, 7, 15};

v8 load(const float* p) {
  v8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
void store(float* p, v8 v) { std::memcpy(p, &v, sizeof v); }

// Asks for the plane after this one while this one is transformed (or, with `write`, for the
// output plane after this one): the planes come from memory (the batch's activations do not stay
// in L2), and the transform of one plane is too short for the hardware prefetcher to run ahead.
void prefetch_plane(const float* plane, std::int64_t values, bool write = false) {
  for (std::int64_t i = 0; i < values; i += 16) {
    if (write)
      __builtin_prefetch(plane + i, 1);
    else
      __builtin_prefetch(plane + i);
  }
}

// dst[0, n) = src[0, n): rows of a few dozen values, too short for a call to memcpy to pay. Eight
// at a time, the last eight overlapping the previous ones rather than a scalar tail (copying the
// CNN's 14-value rows value by value took as long as the transforms).
void copy_row(const float* src, std::int64_t n, float* dst) {
  if (n < kRowAlign) {
    for (std::int64_t i = 0; i < n; ++i) dst[i] = src[i];
    return;
  }
  for (std::int64_t i = 0; i + kRowAlign < n; i += kRowAlign) store(dst + i, load(src + i));
  store(dst + n - kRowAlign, load(src + n - kRowAlign));
}

// V_xi for one sample's tiles, the tiles of the sample being columns [col0, col0 + per_sample) of
// the products: store(xi, c, p, values) receives V_xi's values for channel c and columns p .. p
// + 7. `padded` is one input plane with a border of zeros: (2 * th + 2) rows of 2 * row + 2 values,
// input pixel (y, x) at row y + 1, column x + 1; only its interior is written here, so the border
// stays as the caller zeroed it.
template <class Store>
void input_transform(const float* x, std::int64_t channels, const Layout& l, std::int64_t col0,
                     float* padded, Store&& store_v) {
  const std::int64_t width = 2 * l.row + 2;
  for (std::int64_t c = 0; c < channels; ++c) {
    const float* plane = x + c * l.h * l.w;
    if (c + 1 < channels) prefetch_plane(plane + l.h * l.w, l.h * l.w);
    for (std::int64_t y = 0; y < l.h; ++y)
      copy_row(plane + y * l.w, l.w, padded + (y + 1) * width + 1);
    for (std::int64_t ty = 0; ty < l.th; ++ty)
      for (std::int64_t tx0 = 0; tx0 < l.row; tx0 += kRowAlign) {
        // Tile tx reads padded rows 2ty .. 2ty + 3, columns 2tx .. 2tx + 3: for eight tiles,
        // the even and odd columns of 16 values from 2 tx0, and of 16 values from 2 tx0 + 2.
        // t[r][q] = (d B)[r][q], with B^T's rows (1 0 -1 0), (0 1 1 0), (0 -1 1 0), (0 1 0 -1).
        v8 t[4][4];
        for (int r = 0; r < 4; ++r) {
          const float* d = padded + (2 * ty + r) * width + 2 * tx0;
          const v8 a = load(d), b = load(d + 8), c2 = load(d + 2), d2 = load(d + 10);
          const v8 d0 = __builtin_shuffle(a, b, kEven), d1 = __builtin_shuffle(a, b, kOdd);
          const v8 e0 = __builtin_shuffle(c2, d2, kEven), e1 = __builtin_shuffle(c2, d2, kOdd);
          t[r][0] = d0 - e0;
          t[r][1] = d1 + e0;
          t[r][2] = e0 - d1;
          t[r][3] = d1 - e1;
        }
        // V[a][q] = (B^T t)[a][q], to column p of V_{4a+q}.
        const std::int64_t p = col0 + ty * l.row + tx0;
        for (int q = 0; q < 4; ++q) {
          store_v(0 + q, c, p, t[0][q] - t[2][q]);
          store_v(4 + q, c, p, t[1][q] + t[2][q]);
          store_v(8 + q, c, p, t[2][q] - t[1][q]);
          store_v(12 + q, c, p, t[1][q] - t[3][q]);
        }
      }
  }
}

// y for one sample from M (16 matrices [OC, columns], `plane` values apart, this sample's tiles
// from col0 on): Y = A^T M A with A^T's rows (1 1 1 0) and (0 1 -1 -1), plus the bias.
void output_transform(const float* m, std::int64_t plane, std::int64_t out_channels,
                      std::int64_t columns, const Layout& l, std::int64_t col0, const float* bias,
                      float* y) {
  const float* sample_end = y + out_channels * l.h * l.w;
  for (std::int64_t o = 0; o < out_channels; ++o) {
    const float bo = bias != nullptr ? bias[o] : 0.0f;
    const v8 b = {bo, bo, bo, bo, bo, bo, bo, bo};
    float* y_plane = y + o * l.h * l.w;
    if (o + 1 < out_channels) prefetch_plane(y_plane + l.h * l.w, l.h * l.w, /*write=*/true);
    for (std::int64_t ty = 0; ty < l.th; ++ty)
      for (std::int64_t tx0 = 0; tx0 < l.row; tx0 += kRowAlign) {
        const float* mo = m + o * columns + col0 + ty * l.row + tx0;
        // u[e][q] = sum over a of A^T[e][a] M[a][q].
        v8 u[2][4];
        for (int q = 0; q < 4; ++q) {
          const v8 m0 = load(mo + (0 + q) * plane), m1 = load(mo + (4 + q) * plane);
          const v8 m2 = load(mo + (8 + q) * plane), m3 = load(mo + (12 + q) * plane);
          u[0][q] = m0 + m1 + m2;
          u[1][q] = m1 - m2 - m3;
        }
        // Y[e][f] = sum over q of u[e][q] A^T[f][q]: output row 2ty + e, columns 2tx + f.
        const std::int64_t x0 = 2 * tx0, count = std::min<std::int64_t>(2 * kRowAlign, l.w - x0);
        for (int e = 0; e < 2 && 2 * ty + e < l.h; ++e) {
          const v8 y0 = u[e][0] + u[e][1] + u[e][2] + b, y1 = u[e][1] - u[e][2] - u[e][3] + b;
          const v8 first = __builtin_shuffle(y0, y1, kLow),
                   second = __builtin_shuffle(y0, y1, kHigh);
          float* dst = y_plane + (2 * ty + e) * l.w + x0;
          // A row narrower than the chunk (the CNN's 14 columns: 7 tiles) is still stored whole
          // when it is the row's only chunk: the values past its end land on rows of this sample
          // that this loop writes later, in order. Value by value, that copy was a quarter of
          // this function. Not past the sample's end: the next sample may be another thread's.
          const bool spill = l.row == kRowAlign && dst + 2 * kRowAlign <= sample_end;
          if (count == 2 * kRowAlign || spill) {
            store(dst, first);
            store(dst + kRowAlign, second);
          } else {
            float row[2 * kRowAlign];
            store(row, first);
            store(row + kRowAlign, second);
            for (std::int64_t i = 0; i < count; ++i) dst[i] = row[i];
          }
        }
      }
  }
}

// The adjoint of output_transform, for the weight gradient: dM = A dY A^T for each tile of one
// sample's gy [OC, H, W] (values outside the image 0), A's rows being (1 0), (1 1), (1 -1),
// (0 -1). store(xi, o, p, values) receives dM_xi's values for channel o and columns p .. p + 7.
// `padded` holds 2 * th rows of 2 * row values, zero past the image: only the image is written.
template <class Store>
void gradient_transform(const float* gy, std::int64_t channels, const Layout& l, std::int64_t col0,
                        float* padded, Store&& store_dm) {
  const std::int64_t width = 2 * l.row;
  for (std::int64_t o = 0; o < channels; ++o) {
    const float* plane = gy + o * l.h * l.w;
    if (o + 1 < channels) prefetch_plane(plane + l.h * l.w, l.h * l.w);
    for (std::int64_t y = 0; y < l.h; ++y) copy_row(plane + y * l.w, l.w, padded + y * width);
    for (std::int64_t ty = 0; ty < l.th; ++ty)
      for (std::int64_t tx0 = 0; tx0 < l.row; tx0 += kRowAlign) {
        // r[a][f] = (A dY)[a][f]: from the tile's two rows e, columns f = even and odd.
        v8 r[4][2];
        const float* top = padded + 2 * ty * width + 2 * tx0;
        const v8 a0 = load(top), a1 = load(top + kRowAlign);
        const v8 b0 = load(top + width), b1 = load(top + width + kRowAlign);
        for (int f = 0; f < 2; ++f) {
          const v8 e0 = __builtin_shuffle(a0, a1, f == 0 ? kEven : kOdd);
          const v8 e1 = __builtin_shuffle(b0, b1, f == 0 ? kEven : kOdd);
          r[0][f] = e0;
          r[1][f] = e0 + e1;
          r[2][f] = e0 - e1;
          r[3][f] = -e1;
        }
        // dM[a][q] = (r A^T)[a][q].
        const std::int64_t p = col0 + ty * l.row + tx0;
        for (int a = 0; a < 4; ++a) {
          store_dm(4 * a + 0, o, p, r[a][0]);
          store_dm(4 * a + 1, o, p, r[a][0] + r[a][1]);
          store_dm(4 * a + 2, o, p, r[a][0] - r[a][1]);
          store_dm(4 * a + 3, o, p, -r[a][1]);
        }
      }
  }
}

// The layout of n samples of h x w.
Layout layout_of(std::int64_t n, std::int64_t h, std::int64_t w) {
  Layout l{h, w, (h + 1) / 2, (w + 1) / 2, 0, 0, 0, 0};
  l.row = round_up(l.tw, kRowAlign);
  l.group = std::clamp<std::int64_t>(kTargetColumns / l.per_sample(), 1, n);
  l.columns = l.group * l.per_sample();
  l.groups = (n + l.group - 1) / l.group;
  return l;
}

}  // namespace

bool winograd_applies(std::int64_t channels, std::int64_t height, std::int64_t width,
                      std::int64_t kh, std::int64_t kw, const Conv2dOptions& o, DType dtype) {
  constexpr std::int64_t kMinChannels = 8, kMaxImageValues = 64 * 64;
  return dtype == kFloat32 && kh == 3 && kw == 3 && o.stride_h == 1 && o.stride_w == 1 &&
         o.pad_h == 1 && o.pad_w == 1 && o.dilation_h == 1 && o.dilation_w == 1 &&
         channels >= kMinChannels && height * width <= kMaxImageValues && packed_gemm_available() &&
         winograd_enabled();
}

WinogradFilters::WinogradFilters(const Tensor& weight, bool adjoint) {
  check(
      weight.dim() == 4 && weight.size(2) == 3 && weight.size(3) == 3 && weight.dtype() == kFloat32,
      "WinogradFilters: expects a float32 [OC, C, 3, 3] weight, got {} {}", weight.shape(),
      weight.dtype());
  const Tensor w = weight.contiguous();
  const std::int64_t oc = w.size(0), c = w.size(1);
  out_channels_ = adjoint ? c : oc;
  in_channels_ = adjoint ? oc : c;
  Tensor u = Tensor::empty({16, out_channels_, in_channels_}, kFloat32);
  const float* src = w.data<float>();
  float* dst = u.data<float>();
  const std::int64_t plane = out_channels_ * in_channels_;
  for (std::int64_t o = 0; o < out_channels_; ++o)
    for (std::int64_t i = 0; i < in_channels_; ++i) {
      // g [3][3]: weight[o][i], or for the adjoint weight[i][o] turned by 180 degrees.
      float g[3][3];
      const float* k = src + (adjoint ? i * c + o : o * c + i) * 9;
      for (int r = 0; r < 3; ++r)
        for (int s = 0; s < 3; ++s) g[r][s] = adjoint ? k[(2 - r) * 3 + (2 - s)] : k[r * 3 + s];
      // G g G^T with G's rows (1 0 0), (1/2 1/2 1/2), (1/2 -1/2 1/2), (0 0 1).
      float gg[4][3];
      for (int s = 0; s < 3; ++s) {
        gg[0][s] = g[0][s];
        gg[1][s] = 0.5f * (g[0][s] + g[1][s] + g[2][s]);
        gg[2][s] = 0.5f * (g[0][s] - g[1][s] + g[2][s]);
        gg[3][s] = g[2][s];
      }
      for (int a = 0; a < 4; ++a) {
        const float row[4] = {gg[a][0], 0.5f * (gg[a][0] + gg[a][1] + gg[a][2]),
                              0.5f * (gg[a][0] - gg[a][1] + gg[a][2]), gg[a][2]};
        for (int q = 0; q < 4; ++q) dst[(a * 4 + q) * plane + o * in_channels_ + i] = row[q];
      }
    }
  for (int xi = 0; xi < 16; ++xi) u_[static_cast<std::size_t>(xi)] = PackedRows(u.select(0, xi));
}

void winograd_conv3x3(const Tensor& x, const WinogradFilters& filters, const Tensor& bias,
                      const Tensor& y) {
  const std::int64_t n = x.size(0), c = x.size(1), oc = filters.out_channels();
  check(x.dim() == 4 && c == filters.in_channels() && y.dim() == 4 && y.size(0) == n &&
            y.size(1) == oc && y.size(2) == x.size(2) && y.size(3) == x.size(3),
        "winograd_conv3x3: shapes {} and {} do not match filters [{}, {}]", x.shape(), y.shape(),
        oc, c);
  const Layout l = layout_of(n, x.size(2), x.size(3));
  const std::int64_t group = l.group, columns = l.columns, groups = l.groups;
  const std::int64_t in_sample = c * l.h * l.w, out_sample = oc * l.h * l.w;
  const float* xs = x.data<float>();
  float* ys = y.data<float>();
  const float* b = bias.defined() ? bias.data<float>() : nullptr;
  parallel_for(groups, [&](std::int64_t first, std::int64_t last) {
    std::array<PackedMatrix, 16> v;
    for (auto& vi : v) {
      vi = PackedMatrix(c, columns);
      // Zeroed once: the columns no sample fills (a last panel's padding) must be zero; those of
      // a short last group keep the previous group's finite values, in outputs never read.
      for (std::int64_t p = 0; p < vi.panels(); ++p)
        std::fill_n(vi.mutable_panel(p), c * kPanel, 0.0f);
    }
    float* v_data[16];
    for (int xi = 0; xi < 16; ++xi) v_data[xi] = v[static_cast<std::size_t>(xi)].mutable_panel(0);
    // M_xi one after another, plane values apart: one cache line more than the matrix, so that
    // the 16 rows read together for a tile do not all fall in one set of the L1 cache (the
    // matrices are 28 KB, seven 4 KB pages, in the CNN).
    const std::int64_t plane = oc * columns + kPanel;
    const Tensor m = Tensor::empty({16, plane}, kFloat32);
    const Tensor padded = zeros({(2 * l.th + 2) * (2 * l.row + 2)}, kFloat32);
    for (std::int64_t g = first; g < last; ++g) {
      const std::int64_t s0 = g * group, count = std::min(group, n - s0);
      for (std::int64_t s = 0; s < count; ++s)
        input_transform(xs + (s0 + s) * in_sample, c, l, s * l.per_sample(), padded.data<float>(),
                        [&](int xi, std::int64_t ci, std::int64_t p, v8 val) {
                          // Column p of the packed V_xi: panel p / 16, lanes p % 16 on (a pointer
                          // looked up per store was a fifth of the transform's time).
                          store(v_data[xi] + (p / kPanel * c + ci) * kPanel + p % kPanel, val);
                        });
      for (int xi = 0; xi < 16; ++xi)
        gemm_packed(filters.u(xi), v[static_cast<std::size_t>(xi)],
                    m.select(0, xi).narrow(0, 0, oc * columns).view({oc, columns}), false);
      for (std::int64_t s = 0; s < count; ++s)
        output_transform(m.data<float>(), plane, oc, columns, l, s * l.per_sample(), b,
                         ys + (s0 + s) * out_sample);
    }
  });
}

Tensor winograd_weight_grad(const Tensor& x, const Tensor& gy) {
  const std::int64_t n = x.size(0), c = x.size(1), oc = gy.size(1);
  check(x.dim() == 4 && gy.dim() == 4 && gy.size(0) == n && gy.size(2) == x.size(2) &&
            gy.size(3) == x.size(3),
        "winograd_weight_grad: shapes {} and {} do not match", x.shape(), gy.shape());
  const Layout l = layout_of(n, x.size(2), x.size(3));
  const std::int64_t group = l.group, columns = l.columns, groups = l.groups;
  const std::int64_t in_sample = c * l.h * l.w, out_sample = oc * l.h * l.w;
  const float* xs = x.data<float>();
  const float* gys = gy.data<float>();
  // dU_xi^T [C, OC] = sum over the groups of V_xi [C, columns] @ dM_xi^T [columns, OC]: one
  // partial sum per chunk of groups (per thread), added in chunk order.
  const int chunks = parallel_chunks(groups);
  std::vector<Tensor> partial(static_cast<std::size_t>(chunks));
  parallel_for_chunks(groups, [&](int chunk, std::int64_t first, std::int64_t last) {
    const Tensor dut = Tensor::empty({16, c, oc}, kFloat32);
    // Zeroed once, as in winograd_conv3x3: columns no sample fills must be zero in V (their dM
    // columns are not, being the previous group's).
    const Tensor v = zeros({16, c, columns}, kFloat32), dm = zeros({16, oc, columns}, kFloat32);
    const Tensor padded_x = zeros({(2 * l.th + 2) * (2 * l.row + 2)}, kFloat32);
    const Tensor padded_gy = zeros({2 * l.th * 2 * l.row}, kFloat32);
    float* vs = v.data<float>();
    float* dms = dm.data<float>();
    for (std::int64_t g = first; g < last; ++g) {
      const std::int64_t s0 = g * group, count = std::min(group, n - s0);
      for (std::int64_t s = 0; s < count; ++s) {
        input_transform(xs + (s0 + s) * in_sample, c, l, s * l.per_sample(), padded_x.data<float>(),
                        [&](int xi, std::int64_t ci, std::int64_t p, v8 val) {
                          store(vs + (xi * c + ci) * columns + p, val);
                        });
        gradient_transform(gys + (s0 + s) * out_sample, oc, l, s * l.per_sample(),
                           padded_gy.data<float>(),
                           [&](int xi, std::int64_t o, std::int64_t p, v8 val) {
                             store(dms + (xi * oc + o) * columns + p, val);
                           });
      }
      if (count < group)  // a short last group: its missing samples' columns of V back to zero
        for (int xi = 0; xi < 16; ++xi)
          for (std::int64_t ci = 0; ci < c; ++ci)
            std::fill(vs + (xi * c + ci) * columns + count * l.per_sample(),
                      vs + (xi * c + ci + 1) * columns, 0.0f);
      for (int xi = 0; xi < 16; ++xi)
        gemm_packed(v.select(0, xi), PackedMatrix(dm.select(0, xi).t()), dut.select(0, xi),
                    g != first);
    }
    partial[static_cast<std::size_t>(chunk)] = dut;
  });
  for (std::size_t k = 1; k < partial.size(); ++k) partial[0].add_(partial[k]);
  // dW = G^T dU G for each (o, c), G's rows (1 0 0), (1/2 1/2 1/2), (1/2 -1/2 1/2), (0 0 1).
  Tensor gw = Tensor::empty({oc, c, 3, 3}, kFloat32);
  const float* du = partial[0].data<float>();
  float* dw = gw.data<float>();
  const std::int64_t plane = c * oc;
  for (std::int64_t o = 0; o < oc; ++o)
    for (std::int64_t ci = 0; ci < c; ++ci) {
      float d[4][4], t[3][4];
      for (int xi = 0; xi < 16; ++xi) d[xi / 4][xi % 4] = du[xi * plane + ci * oc + o];
      for (int q = 0; q < 4; ++q) {
        t[0][q] = d[0][q] + 0.5f * (d[1][q] + d[2][q]);
        t[1][q] = 0.5f * (d[1][q] - d[2][q]);
        t[2][q] = 0.5f * (d[1][q] + d[2][q]) + d[3][q];
      }
      float* k = dw + (o * c + ci) * 9;
      for (int i = 0; i < 3; ++i) {
        k[i * 3 + 0] = t[i][0] + 0.5f * (t[i][1] + t[i][2]);
        k[i * 3 + 1] = 0.5f * (t[i][1] - t[i][2]);
        k[i * 3 + 2] = 0.5f * (t[i][1] + t[i][2]) + t[i][3];
      }
    }
  return gw;
}

}  // namespace seqgrad::nn::functional
