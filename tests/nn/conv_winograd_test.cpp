// 3x3 same convolutions in float32 run on Winograd's F(2x2, 3x3) (nn/conv_winograd.h): forward,
// input gradient and weight gradient. References: counts by hand, and the float64 convolution
// (im2col, which gradcheck covers).
#include <vector>

#include "nn/conv_winograd.h"
#include "nn/nn_test_util.h"
#include "tensor/packed_gemm.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;

namespace {

bool winograd_for(std::int64_t channels, const F::Conv2dOptions& o, DType dtype = kFloat32) {
  return F::winograd_applies(channels, 14, 14, 3, 3, o, dtype);
}

}  // namespace

TEST_CASE("winograd_conv3x3: ones through ones count each output's neighbours inside the image") {
  if (!packed_gemm_available()) {
    MESSAGE("skipped: the packed kernel is off on this CPU path");
    return;
  }
  const std::int64_t N = 2, C = 8, OC = 3, H = 5, W = 6;
  const Tensor x = ones({N, C, H, W}), w = ones({OC, C, 3, 3});
  const Tensor b = from_vector(std::vector<float>{0.5f, -1.0f, 2.0f}, {OC});
  const Tensor y = Tensor::empty({N, OC, H, W}, kFloat32);
  F::winograd_conv3x3(x, F::WinogradFilters(w, false), b, y);
  const auto got = y.to_vector<float>();
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t o = 0; o < OC; ++o)
      for (std::int64_t i = 0; i < H; ++i)
        for (std::int64_t j = 0; j < W; ++j) {
          // 3 rows and columns of neighbours, 2 on the image's edge: 8 channels of each.
          const float rows = (i == 0 || i == H - 1) ? 2.0f : 3.0f;
          const float cols = (j == 0 || j == W - 1) ? 2.0f : 3.0f;
          const std::vector<float> bias{0.5f, -1.0f, 2.0f};
          CHECK(got[static_cast<std::size_t>(((n * OC + o) * H + i) * W + j)] ==
                8.0f * rows * cols + bias[static_cast<std::size_t>(o)]);
        }
}

TEST_CASE("winograd_conv3x3: the adjoint filters give the input gradient by hand") {
  if (!packed_gemm_available()) {
    MESSAGE("skipped: the packed kernel is off on this CPU path");
    return;
  }
  // One output channel whose kernel is 1 at its top-left corner only: y[i][j] = x[i-1][j-1]
  // summed over the 8 input channels, so dx[c][i][j] = gy[i+1][j+1] inside the image.
  const std::int64_t C = 8, H = 4, W = 5;
  Tensor w = zeros({1, C, 3, 3});
  for (std::int64_t c = 0; c < C; ++c)
    w.select(0, 0).select(0, c).select(0, 0).select(0, 0).fill_(1.0);
  std::vector<float> values(static_cast<std::size_t>(H * W));
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i + 1);
  const Tensor gy = from_vector(values, {1, 1, H, W});
  const Tensor gx = Tensor::empty({1, C, H, W}, kFloat32);
  F::winograd_conv3x3(gy, F::WinogradFilters(w, true), Tensor(), gx);
  const auto got = gx.to_vector<float>();
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t i = 0; i < H; ++i)
      for (std::int64_t j = 0; j < W; ++j) {
        const float expected =
            (i + 1 < H && j + 1 < W) ? values[static_cast<std::size_t>((i + 1) * W + j + 1)] : 0.0f;
        CHECK(got[static_cast<std::size_t>((c * H + i) * W + j)] == expected);
      }
}

TEST_CASE("conv2d float32 on Winograd's products equals the float64 im2col convolution") {
  const F::Conv2dOptions same{.pad_h = 1, .pad_w = 1};
  if (!packed_gemm_available()) {
    CHECK_FALSE(winograd_for(8, same));
    MESSAGE("skipped: the packed kernel is off on this CPU path");
    return;
  }
  struct Case {
    std::int64_t n, c, oc, h, w;
    bool bias;
  };
  // The CNN's second layer; odd sizes (a last tile half outside); a 1 x 1 image; rows of more than
  // eight tiles (two chunks per row); many samples per product with a short last group, and 3
  // output channels (the input gradient on im2col).
  const std::vector<Case> cases{{3, 32, 64, 14, 14, true}, {5, 13, 16, 5, 7, true},
                                {2, 9, 8, 1, 1, true},     {3, 8, 12, 17, 19, false},
                                {9, 8, 3, 2, 3, true},     {4, 8, 8, 28, 28, true}};
  RestoreOneThread restore;
  Generator gen(2016);
  for (const Case& k : cases) {
    CAPTURE(k.n);
    CAPTURE(k.c);
    CAPTURE(k.oc);
    CAPTURE(k.h);
    CAPTURE(k.w);
    REQUIRE(winograd_for(k.c, same));
    // The input gradient takes Winograd's products too when gy has 8+ channels (im2col else).
    CHECK(winograd_for(k.oc, same) == (k.oc >= 8));
    const Tensor x = randn({k.n, k.c, k.h, k.w}, kFloat32, &gen);
    const Tensor w = randn({k.oc, k.c, 3, 3}, kFloat32, &gen);
    const Tensor b = randn({k.oc}, kFloat32, &gen);
    const Tensor weights = randn({k.n, k.oc, k.h, k.w}, kFloat32, &gen);
    const auto conv = [&](const std::vector<Variable>& v) {
      return F::conv2d(v[0], v[1], k.bias ? v[2] : Variable(), same);
    };
    const auto inputs = [&](DType dtype) {
      std::vector<Tensor> in{x.to(dtype), w.to(dtype)};
      if (k.bias) in.push_back(b.to(dtype));
      return in;
    };
    const auto reference = output_and_grads(inputs(kFloat64), weights.to(kFloat64), conv);
    std::vector<Tensor> by_threads[2];
    for (const int threads : {1, 2}) {
      CAPTURE(threads);
      set_num_threads(threads);
      const auto got = output_and_grads(inputs(kFloat32), weights, conv);
      // Outputs are sums of 9 C products of N(0, 1) values (|y| ~ 3 sqrt(C)); the transforms add
      // up to 16 of them before rounding, so allow float32 rounding of the largest terms.
      expect_close(got[0], reference[0], 1e-4, 1e-4);
      expect_close(got[1], reference[1], 1e-4, 1e-4);
      expect_close(got[2], reference[2], 1e-4, 1e-3);  // dW: Winograd's adjoint too
      if (k.bias) expect_close(got[3], reference[3], 1e-4, 1e-3);
      by_threads[threads - 1] = got;
    }
    // A sample's products do not depend on the thread count: bit for bit the same (the weight
    // gradient sums one partial per thread, so it may differ in the last bits).
    CHECK(by_threads[0][0].to_vector<float>() == by_threads[1][0].to_vector<float>());
    CHECK(by_threads[0][1].to_vector<float>() == by_threads[1][1].to_vector<float>());
  }
}

TEST_CASE(
    "winograd_applies: only 3x3, stride 1, padding 1, dilation 1, float32, 8+ channels, 64 x 64") {
  const F::Conv2dOptions same{.pad_h = 1, .pad_w = 1};
  CHECK(winograd_for(8, same) == packed_gemm_available());
  CHECK_FALSE(winograd_for(7, same));
  CHECK_FALSE(winograd_for(8, same, kFloat64));
  CHECK_FALSE(winograd_for(8, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}));
  CHECK_FALSE(winograd_for(8, {}));
  CHECK_FALSE(winograd_for(8, {.pad_h = 2, .pad_w = 2, .dilation_h = 2, .dilation_w = 2}));
  CHECK_FALSE(F::winograd_applies(8, 14, 14, 5, 5, {.pad_h = 2, .pad_w = 2}, kFloat32));
  CHECK_FALSE(F::winograd_applies(8, 1, 14, 1, 3, {.pad_w = 1}, kFloat32));  // a conv1d
  CHECK(F::winograd_applies(8, 64, 64, 3, 3, same, kFloat32) == packed_gemm_available());
  CHECK_FALSE(F::winograd_applies(8, 64, 65, 3, 3, same, kFloat32));  // image too large
}
