// Forward values (and gradients) of the layers' functional forms: against PyTorch through
// tests/fixtures/nn.json, by hand on small inputs, and the Layer classes against their functional
// forms.
#include <cmath>
#include <numbers>

#include "nn/nn_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;

TEST_CASE("fixtures: dense, convolution and pooling ops match PyTorch 1.13 to 1e-10") {
  const std::set<std::string> ops = {"linear",     "embedding",  "conv2d",     "conv1d",
                                     "max_pool2d", "avg_pool2d", "layer_norm", "gelu"};
  // Every op has cases in the file: a fixture regenerated without one must not pass silently.
  CHECK(check_fixture_cases(ops) == ops);
}

TEST_CASE("linear: hand-computed values and gradients") {
  const Variable x(f64({1, 2, -1, 0.5}, {2, 2}), true);
  const Variable w(f64({1, 0, 0, 1, 1, 1}, {3, 2}), true);
  const Variable b(f64({0, 0, 1}, {3}), true);
  const Variable y = F::linear(x, w, b);
  expect_values(y.value(), {2, 3}, {1, 2, 4, -1, 0.5, 0.5});
  sum(y).backward();
  expect_values(x.grad(), {2, 2}, {2, 2, 2, 2});              // column sums of W
  expect_values(w.grad(), {3, 2}, {0, 2.5, 0, 2.5, 0, 2.5});  // sums of x's columns, per row
  expect_values(b.grad(), {3}, {2, 2, 2});
}

TEST_CASE("linear: a 3-D input equals the 2-D op on its rows") {
  Generator gen(1);
  const Tensor x = normal64({2, 3, 4}, gen), w = normal64({5, 4}, gen), b = normal64({5}, gen);
  const Variable y3 = F::linear(Variable(x), Variable(w), Variable(b));
  const Variable y2 = F::linear(Variable(x.reshape({6, 4})), Variable(w), Variable(b));
  CHECK(y3.shape() == Dims{2, 3, 5});
  expect_close(y3.value().reshape({6, 5}), y2.value());
}

TEST_CASE("linear: a non-contiguous input gives the same result") {
  Generator gen(2);
  const Tensor x = normal64({4, 3}, gen), w = normal64({2, 4}, gen);
  const Tensor xt = x.t();  // [3, 4], transposed strides
  REQUIRE_FALSE(xt.is_contiguous());
  expect_close(F::linear(Variable(xt), Variable(w)).value(),
               F::linear(Variable(xt.contiguous()), Variable(w)).value());
}

TEST_CASE("embedding: picks rows, keeps the ids' shape, accumulates repeated ids") {
  const Variable w(f64({0, 1, 10, 11, 20, 21}, {3, 2}), true);
  const Tensor ids = i64({2, 0, 2, 2}, {2, 2});
  const Variable y = F::embedding(ids, w);
  expect_values(y.value(), {2, 2, 2}, {20, 21, 0, 1, 20, 21, 20, 21});
  sum(y).backward();
  expect_values(w.grad(), {3, 2}, {1, 1, 0, 0, 3, 3});
}

TEST_CASE("embedding: the padding row gets no gradient, the others are unchanged") {
  Generator gen(3);
  const Tensor weight = normal64({5, 3}, gen);
  const Tensor ids = i64({1, 4, 1, 0, 4, 2}, {2, 3});
  const Tensor gy = normal64({2, 3, 3}, gen);
  const Variable plain(weight, true), padded(weight, true);
  weighted_sum(F::embedding(ids, plain), gy).backward();
  weighted_sum(F::embedding(ids, padded, 4), gy).backward();
  // Row 4 is looked up (twice), so without padding_idx it does get a gradient.
  CHECK(sum(abs(plain.grad().select(0, 4))).item() > 0.0);
  expect_values(padded.grad().select(0, 4), {3}, {0, 0, 0});
  for (std::int64_t row : {0, 1, 2, 3})
    expect_close(padded.grad().select(0, row), plain.grad().select(0, row));
  // The forward pass still reads the padding row as it is (PyTorch does the same).
  expect_close(F::embedding(ids, padded, 4).value(), F::embedding(ids, plain).value());
}

TEST_CASE("conv2d: a 3x3 image with a 2x2 kernel of ones sums each 2x2 window") {
  const Variable x(f64({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3}), true);
  const Variable w(ones({1, 1, 2, 2}, kFloat64), true);
  const Variable b(f64({0.5}, {1}), true);
  const Variable y = F::conv2d(x, w, b);
  expect_values(y.value(), {1, 1, 2, 2}, {12.5, 16.5, 24.5, 28.5});
  sum(y).backward();
  // Each pixel is counted once per window that covers it.
  expect_values(x.grad(), {1, 1, 3, 3}, {1, 2, 1, 2, 4, 2, 1, 2, 1});
  expect_values(w.grad(), {1, 1, 2, 2}, {12, 16, 24, 28});  // sum of each kernel tap's pixels
  expect_values(b.grad(), {1}, {4});
}

TEST_CASE("conv2d: padding, stride and dilation by hand") {
  const Variable x(f64({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3}));
  const Variable w(ones({1, 1, 2, 2}, kFloat64));
  SUBCASE("padding 1: the border windows see zeros") {
    F::Conv2dOptions o;
    o.pad_h = o.pad_w = 1;
    expect_values(F::conv2d(x, w, {}, o).value(), {1, 1, 4, 4},
                  {1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9});
  }
  SUBCASE("padding 1 and stride 2") {
    F::Conv2dOptions o;
    o.pad_h = o.pad_w = 1;
    o.stride_h = o.stride_w = 2;
    expect_values(F::conv2d(x, w, {}, o).value(), {1, 1, 2, 2}, {1, 5, 11, 28});
  }
  SUBCASE("dilation 2: the kernel taps are the four corners") {
    F::Conv2dOptions o;
    o.dilation_h = o.dilation_w = 2;
    expect_values(F::conv2d(x, w, {}, o).value(), {1, 1, 1, 1}, {1 + 3 + 7 + 9});
  }
  SUBCASE("two output channels, one of them negated") {
    const Variable w2(f64({1, 1, 1, 1, -1, -1, -1, -1}, {2, 1, 2, 2}));
    expect_values(F::conv2d(x, w2, {}).value(), {1, 2, 2, 2}, {12, 16, 24, 28, -12, -16, -24, -28});
  }
}

TEST_CASE("conv1d: a ramp with the kernel (-1, 1) gives the backward differences") {
  const Variable x(f64({0, 1, 3, 6, 10}, {1, 1, 5}));
  const Variable w(f64({-1, 1}, {1, 1, 2}));
  expect_values(F::conv1d(x, w, {}).value(), {1, 1, 4}, {1, 2, 3, 4});
  expect_values(F::conv1d(x, w, {}, /*stride=*/2).value(), {1, 1, 2}, {1, 3});
  expect_values(F::conv1d(x, w, {}, 1, /*padding=*/1).value(), {1, 1, 6}, {0, 1, 2, 3, 4, -10});
  expect_values(F::conv1d(x, w, {}, 1, 0, /*dilation=*/2).value(), {1, 1, 3}, {3, 5, 7});
}

TEST_CASE("conv1d equals conv2d over a height-1 image") {
  Generator gen(4);
  const Tensor x = normal64({2, 3, 9}, gen), w = normal64({4, 3, 3}, gen), b = normal64({4}, gen);
  F::Conv2dOptions o;
  o.stride_w = 2;
  o.pad_w = 1;
  o.dilation_w = 2;
  const Variable y1 = F::conv1d(Variable(x), Variable(w), Variable(b), 2, 1, 2);
  const Variable y2 = F::conv2d(Variable(x.unsqueeze(2)), Variable(w.unsqueeze(2)), Variable(b), o);
  expect_close(y1.value(), y2.value().squeeze(2));
}

TEST_CASE("max_pool2d: a 4x4 ramp") {
  const Variable x(arange(0.0, 16.0, 1.0, kFloat64).reshape({1, 1, 4, 4}), true);
  SUBCASE("kernel 2 stride 2 picks each block's bottom-right corner") {
    const Variable y = F::max_pool2d(x, 2);
    expect_values(y.value(), {1, 1, 2, 2}, {5, 7, 13, 15});
    weighted_sum(y, f64({1, 2, 3, 4}, {1, 1, 2, 2})).backward();
    expect_values(x.grad(), {1, 1, 4, 4}, {0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4});
  }
  SUBCASE("kernel 3 stride 2 padding 1: padding never wins") {
    const Variable y = F::max_pool2d(-x, 3, 2, 1);  // all values <= 0 are still above -inf
    expect_values(y.value(), {1, 1, 2, 2}, {0, -1, -4, -5});
  }
  SUBCASE("kernel 3 stride 1: overlapping windows") {
    const Variable y = F::max_pool2d(x, 3, 1);
    expect_values(y.value(), {1, 1, 2, 2}, {10, 11, 14, 15});
    sum(y).backward();
    expect_values(x.grad(), {1, 1, 4, 4}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1});
  }
}

TEST_CASE("max_pool2d: a maximum shared by overlapping windows collects all their gradients") {
  // A peak at (1, 2) lies in all four 3x3 windows of the 4x4 ramp.
  std::vector<double> v(16);
  for (int i = 0; i < 16; ++i) v[i] = i;
  v[1 * 4 + 2] = 100;
  const Variable x(f64(v, {1, 1, 4, 4}), true);
  const Variable y = F::max_pool2d(x, 3, 1);
  expect_values(y.value(), {1, 1, 2, 2}, {100, 100, 100, 100});
  weighted_sum(y, f64({1, 2, 3, 4}, {1, 1, 2, 2})).backward();
  std::vector<double> expected(16, 0.0);
  expected[1 * 4 + 2] = 10;
  expect_values(x.grad(), {1, 1, 4, 4}, expected);
}

TEST_CASE("max_pool2d 2x2 in float32: ties go to the first, NaN wins, over wide rows") {
  // Rows of 18 outputs (SIMD blocks of 8, 8 and a masked 2) from an odd width whose last column
  // no window reads, and rows of 7 (one masked block, as in the CNN's second pooling). Small
  // integers make ties common; a few NaNs are planted. Each output's gradient weight is its index +
  // 1, so the gradient shows which input each output chose.
  for (const auto& [W, OW] : {std::pair<std::int64_t, std::int64_t>{37, 18}, {14, 7}}) {
    CAPTURE(W);
    const std::int64_t H = 6, OH = 3;
    std::vector<double> v(2 * 3 * H * W);
    for (std::size_t i = 0; i < v.size(); ++i)
      v[i] = static_cast<double>((i * 2654435761u >> 7) % 3);
    for (std::size_t i : {5u, 40u, 41u, 77u, 300u, 301u, 338u, 339u, 450u, 700u})
      if (i < v.size()) v[i] = std::nan("");
    const Variable x(f64(v, {2, 3, H, W}).to(kFloat32), true);
    const Variable y = F::max_pool2d(x, 2);
    sum(y * Variable(arange(1.0, 2.0 * 3 * OH * OW + 1, 1.0, kFloat32).reshape({2, 3, OH, OW})))
        .backward();
    // The expected choice: scan each window (0,0), (0,1), (1,0), (1,1); a NaN sticks, a later value
    // replaces the best only when strictly larger or NaN.
    const Tensor got = y.value().to(kFloat64), grad = x.grad().to(kFloat64);
    std::vector<double> want_grad(v.size(), 0.0);
    for (std::int64_t p = 0; p < 6; ++p)
      for (std::int64_t oy = 0; oy < OH; ++oy)
        for (std::int64_t ox = 0; ox < OW; ++ox) {
          std::int64_t best = -1;
          for (std::int64_t i = 0; i < 2; ++i)
            for (std::int64_t j = 0; j < 2; ++j) {
              const std::int64_t at = (p * H + 2 * oy + i) * W + 2 * ox + j;
              const double b = best < 0 ? 0 : v[static_cast<std::size_t>(best)];
              if (best < 0 ||
                  (b == b && (v[static_cast<std::size_t>(at)] > b ||
                              v[static_cast<std::size_t>(at)] != v[static_cast<std::size_t>(at)])))
                best = at;
            }
          const std::int64_t o = (p * OH + oy) * OW + ox;
          const double want = v[static_cast<std::size_t>(best)], have = got.data<double>()[o];
          CHECK_MESSAGE((want == have || (want != want && have != have)), "output " << o);
          want_grad[static_cast<std::size_t>(best)] = static_cast<double>(o + 1);
        }
    for (std::size_t i = 0; i < v.size(); ++i)
      REQUIRE_MESSAGE(grad.data<double>()[i] == want_grad[i], "input " << i);
  }
}

TEST_CASE("avg_pool2d: a 4x4 ramp, and padding counted as zeros") {
  const Variable x(arange(0.0, 16.0, 1.0, kFloat64).reshape({1, 1, 4, 4}), true);
  const Variable y = F::avg_pool2d(x, 2);
  expect_values(y.value(), {1, 1, 2, 2}, {2.5, 4.5, 10.5, 12.5});
  sum(y).backward();
  expect_values(x.grad(), {1, 1, 4, 4}, std::vector<double>(16, 0.25));
  // A 2x2 image of ones with kernel 3 and padding 1: every window holds the 4 ones and 5 zeros.
  const Variable o(ones({1, 1, 2, 2}, kFloat64));
  expect_values(F::avg_pool2d(o, 3, 1, 1).value(), {1, 1, 2, 2}, std::vector<double>(4, 4.0 / 9));
}

TEST_CASE("layer_norm: hand-computed values") {
  const Variable x(f64({1, 2, 3, 4, 2, 2, 2, 2}, {2, 4}));
  const double s = std::sqrt(1.25 + 1e-5);
  const Variable y = F::layer_norm(x, {4});
  expect_values(y.value(), {2, 4}, {-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s, 0, 0, 0, 0}, 1e-12);
  const Variable w(f64({1, 2, 3, 4}, {4})), b(f64({0, 0, 0, 1}, {4}));
  expect_values(F::layer_norm(x, {4}, w, b).value(), {2, 4},
                {-1.5 / s, -1 / s, 1.5 / s, 6 / s + 1, 0, 0, 0, 1}, 1e-12);
  // Over two dims the whole [2, 4] slab shares one mean and variance.
  const Variable y2 = F::layer_norm(x.unsqueeze(0), {2, 4});
  CHECK(std::abs(mean(y2).item()) < 1e-12);
  CHECK(mean(y2 * y2).item() == doctest::Approx(1.0).epsilon(1e-4));
}

TEST_CASE("gelu: known values and the exact (erf) form") {
  const Variable x(f64({0, 1, -1, 3, -3}, {5}));
  expect_values(
      F::gelu(x).value(), {5},
      {0, 0.841344746068543, -0.15865525393145702, 2.99595030590511, -0.00404969409489031}, 1e-12);
}

TEST_CASE("dropout: identity in eval, p = 0 and p = 1, and the scaled Bernoulli mask") {
  Generator gen(5);
  const Variable x(normal64({4, 5}, gen));
  CHECK(F::dropout(x, 0.5, /*training=*/false).impl() == x.impl());
  CHECK(F::dropout(x, 0.0, /*training=*/true).impl() == x.impl());
  expect_values(F::dropout(x, 1.0, true).value(), {4, 5}, std::vector<double>(20, 0.0));

  const Variable big(ones({200, 500}, kFloat64));
  Generator g1(42), g2(42);
  const Tensor y = F::dropout(big, 0.3, true, &g1).value();
  // Kept elements are scaled by 1 / (1 - p), the rest are zero; about p of them are dropped.
  auto fraction = [&](const Tensor& mask) {
    return sum(mask.to(kFloat64)).item() / static_cast<double>(y.numel());
  };
  const double dropped = fraction(eq(y, 0.0));
  const double scaled = fraction(lt(abs(y - 1.0 / 0.7), 1e-12));
  CHECK(dropped + scaled == 1.0);
  CHECK(std::abs(dropped - 0.3) < 0.01);  // 100000 draws: the standard error is 0.0015
  CHECK(std::abs(mean(y).item() - 1.0) < 0.01);
  // The same seed draws the same mask.
  expect_close(F::dropout(big, 0.3, true, &g2).value(), y, 0.0, 0.0);
}

// --- the Layer classes compute what their functional forms compute ----------------------------

TEST_CASE("layers: forward equals the functional form with the layer's parameters") {
  Generator gen(6);
  SUBCASE("Linear") {
    nn::Linear layer(4, 3, true, kFloat64, &gen);
    const Variable x(normal64({2, 5, 4}, gen));
    expect_close(layer(x).value(), F::linear(x, layer.weight, layer.bias).value());
    nn::Linear no_bias(4, 3, false, kFloat64, &gen);
    CHECK_FALSE(no_bias.bias.defined());
    expect_close(no_bias(x).value(), F::linear(x, no_bias.weight).value());
  }
  SUBCASE("Conv2d") {
    nn::Conv2d layer(2, 3, 3, /*stride=*/2, /*padding=*/1, /*dilation=*/1, true, kFloat64, &gen);
    const Variable x(normal64({2, 2, 7, 6}, gen));
    F::Conv2dOptions o;
    o.stride_h = o.stride_w = 2;
    o.pad_h = o.pad_w = 1;
    expect_close(layer(x).value(), F::conv2d(x, layer.weight, layer.bias, o).value());
    CHECK(layer(x).shape() == Dims{2, 3, 4, 3});
  }
  SUBCASE("Conv2d with dilation and no bias") {
    nn::Conv2d layer(2, 2, 2, 1, 0, /*dilation=*/2, /*bias=*/false, kFloat64, &gen);
    const Variable x(normal64({1, 2, 5, 5}, gen));
    F::Conv2dOptions o;
    o.dilation_h = o.dilation_w = 2;
    expect_close(layer(x).value(), F::conv2d(x, layer.weight, {}, o).value());
  }
  SUBCASE("Conv1d") {
    nn::Conv1d layer(3, 2, 3, 2, 1, 2, true, kFloat64, &gen);
    const Variable x(normal64({2, 3, 10}, gen));
    expect_close(layer(x).value(), F::conv1d(x, layer.weight, layer.bias, 2, 1, 2).value());
  }
  SUBCASE("MaxPool2d and AvgPool2d (stride defaults to the kernel)") {
    const Variable x(normal64({2, 3, 6, 6}, gen));
    nn::MaxPool2d mp(2);
    CHECK(mp.stride == 2);
    expect_close(mp(x).value(), F::max_pool2d(x, 2, 2).value());
    nn::AvgPool2d ap(3, 2, 1);
    expect_close(ap(x).value(), F::avg_pool2d(x, 3, 2, 1).value());
  }
  SUBCASE("LayerNorm") {
    nn::LayerNorm layer({3, 4}, 1e-5, true, kFloat64);
    const Variable x(normal64({2, 3, 4}, gen));
    expect_close(layer(x).value(), F::layer_norm(x, {3, 4}).value());  // weight 1, bias 0
  }
  SUBCASE("Embedding") {
    nn::Embedding layer(6, 3, 1, kFloat64, &gen);
    const Tensor ids = i64({1, 5, 2}, {3});
    expect_close(layer(ids).value(), F::embedding(ids, layer.weight, 1).value());
  }
  SUBCASE("activations and Flatten") {
    const Variable x(normal64({2, 3, 2}, gen));
    expect_close(nn::ReLU()(x).value(), relu(x).value());
    expect_close(nn::Tanh()(x).value(), tanh(x).value());
    expect_close(nn::Sigmoid()(x).value(), sigmoid(x).value());
    expect_close(nn::GELU()(x).value(), F::gelu(x).value());
    CHECK(nn::Flatten()(x).shape() == Dims{2, 6});
  }
}

TEST_CASE("layers: Sequential applies its layers in order") {
  Generator gen(7);
  auto fc1 = std::make_shared<nn::Linear>(4, 6, true, kFloat64, &gen);
  auto fc2 = std::make_shared<nn::Linear>(6, 2, true, kFloat64, &gen);
  nn::Sequential net({fc1, std::make_shared<nn::Tanh>(), fc2});
  CHECK(net.layers().size() == 3);
  const Variable x(normal64({5, 4}, gen));
  expect_close(net(x).value(), (*fc2)(tanh((*fc1)(x))).value());
}

TEST_CASE("layers: a small CNN runs end to end and every parameter gets a gradient") {
  Generator gen(8);
  nn::Sequential net;
  net.add(std::make_shared<nn::Conv2d>(1, 4, 3, 1, 1, 1, true, kFloat64, &gen))
      .add(std::make_shared<nn::ReLU>())
      .add(std::make_shared<nn::MaxPool2d>(2))
      .add(std::make_shared<nn::Conv2d>(4, 4, 3, 2, 1, 1, true, kFloat64, &gen))
      .add(std::make_shared<nn::GELU>())
      .add(std::make_shared<nn::Flatten>())
      .add(std::make_shared<nn::Linear>(4 * 2 * 2, 3, true, kFloat64, &gen));
  const Variable x(normal64({5, 1, 8, 8}, gen));
  const Variable logits = net(x);
  CHECK(logits.shape() == Dims{5, 3});
  F::cross_entropy(logits, i64({0, 1, 2, 1, 0}, {5})).backward();
  for (const auto& [name, p] : net.named_parameters()) {
    INFO(name);
    REQUIRE(p.grad().defined());
    CHECK(p.grad().shape() == p.shape());
    CHECK(all_finite(p.grad()));
  }
}

TEST_CASE("layers: float32 layers agree with float64 ones") {
  Generator gen(9);
  const Tensor x = normal64({2, 3, 6, 6}, gen), w = normal64({4, 3, 3, 3}, gen);
  const Tensor b = normal64({4}, gen);
  F::Conv2dOptions o;
  o.pad_h = o.pad_w = 1;
  const Tensor y64 = F::conv2d(Variable(x), Variable(w), Variable(b), o).value();
  const Tensor y32 =
      F::conv2d(Variable(x.to(kFloat32)), Variable(w.to(kFloat32)), Variable(b.to(kFloat32)), o)
          .value();
  CHECK(y32.dtype() == kFloat32);
  CHECK(allclose(y32.to(kFloat64), y64, 1e-4, 1e-4));
  const Tensor p64 = F::max_pool2d(Variable(x), 3, 2, 1).value();
  CHECK(allclose(F::max_pool2d(Variable(x.to(kFloat32)), 3, 2, 1).value().to(kFloat64), p64, 1e-6,
                 1e-6));
  const Tensor g64 = F::gelu(Variable(x)).value();
  CHECK(allclose(F::gelu(Variable(x.to(kFloat32))).value().to(kFloat64), g64, 1e-6, 1e-6));
}

TEST_CASE(
    "conv2d: float32 values and gradients agree with float64 over strides, padding and dilation") {
  // float32 runs its products on the packed kernel, with im2col writing the kernel's panels
  // directly; float64 runs OpenBLAS on a plain im2col matrix and is checked against PyTorch and
  // finite differences (fixtures, gradcheck). Output sizes of 1, 15, 16, 17 and 49+ positions
  // cover partial and full panels; padding 1 and 2 with stride 1 cover the one-copy path.
  struct Case {
    const char* name;
    Dims x, w;
    F::Conv2dOptions o;
    bool bias;
  };
  const auto opts = [](std::int64_t s, std::int64_t p, std::int64_t d) {
    F::Conv2dOptions o;
    o.stride_h = o.stride_w = s;
    o.pad_h = o.pad_w = p;
    o.dilation_h = o.dilation_w = d;
    return o;
  };
  const std::vector<Case> cases = {
      {"3x3 padding 1 (the CNN's)", {3, 2, 7, 7}, {5, 2, 3, 3}, opts(1, 1, 1), true},
      {"5x5 padding 2 over 4x4: 16 positions", {2, 3, 4, 4}, {4, 3, 5, 5}, opts(1, 2, 1), true},
      {"3x3 padding 1 over 3x5: 15 positions", {2, 1, 3, 5}, {3, 1, 3, 3}, opts(1, 1, 1), false},
      {"dilation 2 padding 2, no bias", {2, 2, 6, 5}, {3, 2, 3, 3}, opts(1, 2, 2), false},
      {"stride 2 padding 1", {2, 3, 9, 8}, {4, 3, 3, 3}, opts(2, 1, 1), true},
      {"no padding: 17 positions", {1, 2, 3, 19}, {2, 2, 3, 3}, opts(1, 0, 1), true},
      {"kernel as large as the image: 1 position", {2, 2, 3, 3}, {3, 2, 3, 3}, opts(1, 0, 1), true},
  };
  Generator gen(12);
  for (const Case& c : cases) {
    INFO(c.name);
    const Tensor x = normal64(c.x, gen), w = normal64(c.w, gen), b = normal64({c.w[0]}, gen);
    const auto run = [&](DType dt) {
      const Variable xv(x.to(dt), true), wv(w.to(dt), true), bv(b.to(dt), true);
      const Variable y = F::conv2d(xv, wv, c.bias ? bv : Variable(), c.o);
      const Tensor gy =
          arange(1.0, static_cast<double>(y.numel()) + 1, 1.0, kFloat64).reshape(y.shape()).to(dt);
      weighted_sum(y, gy * (1.0 / static_cast<double>(y.numel()))).backward();
      std::vector<Tensor> r{y.value().to(kFloat64), xv.grad().to(kFloat64), wv.grad().to(kFloat64)};
      if (c.bias) r.push_back(bv.grad().to(kFloat64));
      return r;
    };
    const std::vector<Tensor> r64 = run(kFloat64), r32 = run(kFloat32);
    for (std::size_t i = 0; i < r64.size(); ++i) {
      INFO("output, dx, dw, db: ", i);
      expect_close(r32[i], r64[i], 1e-4, 1e-4);
    }
  }
}

TEST_CASE("conv2d: stride-1 same-width convolutions against a direct loop, in both dtypes") {
  // The one-copy im2col / col2im path (stride 1, output as wide as the input) is shared by both
  // dtypes, so it is checked here against the definition written as plain loops:
  //   y[n][o][y][x] = b[o] + sum_{c,i,j} w[o][c][i][j] * x[n][c][y - ph + i*dh][x - pw + j*dw]
  // and its adjoints for dx, dw, db. The geometries reach the edge cases of that path.
  struct Case {
    const char* name;
    Dims x, w;
    F::Conv2dOptions o;
  };
  const auto opts = [](std::int64_t ph, std::int64_t pw, std::int64_t dh, std::int64_t dw) {
    F::Conv2dOptions o;
    o.pad_h = ph;
    o.pad_w = pw;
    o.dilation_h = dh;
    o.dilation_w = dw;
    return o;
  };
  const std::vector<Case> cases = {
      {"3x3 padding 1 on 5x6", {2, 2, 5, 6}, {3, 2, 3, 3}, opts(1, 1, 1, 1)},
      {"one column: no valid column for the side taps",
       {2, 2, 4, 1},
       {2, 2, 3, 3},
       opts(1, 1, 1, 1)},
      {"no padding in height: output 2 rows shorter", {1, 2, 5, 4}, {2, 2, 3, 3}, opts(0, 1, 1, 1)},
      {"one row, dilation 4 in height: rows wholly outside",
       {2, 1, 1, 5},
       {2, 1, 2, 3},
       opts(2, 1, 4, 1)},
      {"padding 5 in height, 1x3 kernel: output taller than the input",
       {1, 2, 2, 3},
       {2, 2, 1, 3},
       opts(5, 1, 1, 1)},
      {"5x5 padding 2, dilation 1 and 2 in width", {2, 1, 6, 7}, {2, 1, 5, 3}, opts(2, 2, 1, 2)},
      {"a height-1 image: conv1d with padding 1", {3, 2, 1, 9}, {4, 2, 1, 3}, opts(0, 1, 1, 1)},
  };
  Generator gen(13);
  for (const Case& c : cases) {
    INFO(c.name);
    const Tensor x = normal64(c.x, gen), w = normal64(c.w, gen), b = normal64({c.w[0]}, gen);
    const std::int64_t N = c.x[0], C = c.x[1], H = c.x[2], W = c.x[3];
    const std::int64_t O = c.w[0], KH = c.w[2], KW = c.w[3];
    const std::int64_t OH = H + 2 * c.o.pad_h - c.o.dilation_h * (KH - 1);
    const std::int64_t OW = W + 2 * c.o.pad_w - c.o.dilation_w * (KW - 1);
    REQUIRE(OW == W);  // the one-copy path's condition
    const Tensor gy = normal64({N, O, OH, OW}, gen);
    Tensor y_ref = zeros({N, O, OH, OW}, kFloat64), dx_ref = zeros(c.x, kFloat64);
    Tensor dw_ref = zeros(c.w, kFloat64), db_ref = zeros({O}, kFloat64);
    const double *xp = x.data<double>(), *wp = w.data<double>(), *gp = gy.data<double>();
    double *yp = y_ref.data<double>(), *dxp = dx_ref.data<double>(), *dwp = dw_ref.data<double>();
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t o = 0; o < O; ++o)
        for (std::int64_t oy = 0; oy < OH; ++oy)
          for (std::int64_t ox = 0; ox < OW; ++ox) {
            const std::int64_t yo = ((n * O + o) * OH + oy) * OW + ox;
            double acc = b.data<double>()[o];
            db_ref.data<double>()[o] += gp[yo];
            for (std::int64_t ch = 0; ch < C; ++ch)
              for (std::int64_t i = 0; i < KH; ++i)
                for (std::int64_t j = 0; j < KW; ++j) {
                  const std::int64_t iy = oy - c.o.pad_h + i * c.o.dilation_h;
                  const std::int64_t ix = ox - c.o.pad_w + j * c.o.dilation_w;
                  if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                  const std::int64_t xi = ((n * C + ch) * H + iy) * W + ix;
                  const std::int64_t wi = ((o * C + ch) * KH + i) * KW + j;
                  acc += wp[wi] * xp[xi];
                  dxp[xi] += gp[yo] * wp[wi];
                  dwp[wi] += gp[yo] * xp[xi];
                }
            yp[yo] = acc;
          }
    for (const DType dt : {kFloat64, kFloat32}) {
      INFO(fmt::format("{}", dt));
      const double tol = dt == kFloat64 ? 1e-12 : 1e-4;
      const Variable xv(x.to(dt), true), wv(w.to(dt), true), bv(b.to(dt), true);
      const Variable y = F::conv2d(xv, wv, bv, c.o);
      weighted_sum(y, gy.to(dt)).backward();
      expect_close(y.value().to(kFloat64), y_ref, tol, tol);
      expect_close(xv.grad().to(kFloat64), dx_ref, tol, tol);
      expect_close(wv.grad().to(kFloat64), dw_ref, tol, tol);
      expect_close(bv.grad().to(kFloat64), db_ref, tol, tol);
    }
  }
}

// --- batches split over threads ------------------------------------------------------------------

TEST_CASE("conv2d: a large batch equals each sample convolved alone, values and gradients") {
  // conv2d splits the batch over threads; every sample must still see only its own pixels.
  Generator gen(10);
  const std::int64_t N = 13;
  const Tensor x = normal64({N, 3, 7, 6}, gen), w = normal64({4, 3, 3, 3}, gen);
  const Tensor b = normal64({4}, gen), gy = normal64({N, 4, 4, 3}, gen);
  F::Conv2dOptions o;
  o.stride_h = o.stride_w = 2;
  o.pad_h = o.pad_w = 1;
  const Variable xb(x, true), wb(w, true), bb(b, true);
  const Variable y = F::conv2d(xb, wb, bb, o);
  weighted_sum(y, gy).backward();
  Tensor gw_sum = zeros({4, 3, 3, 3}, kFloat64);
  for (std::int64_t n = 0; n < N; ++n) {
    INFO("sample ", n);
    const Variable xn(x.narrow(0, n, 1), true), wn(w, true);
    const Variable yn = F::conv2d(xn, wn, Variable(b), o);
    expect_close(y.value().narrow(0, n, 1), yn.value(), 1e-12, 1e-13);
    weighted_sum(yn, gy.narrow(0, n, 1)).backward();
    expect_close(xb.grad().narrow(0, n, 1), xn.grad(), 1e-12, 1e-13);
    gw_sum = gw_sum + wn.grad();
  }
  expect_close(wb.grad(), gw_sum, 1e-12, 1e-12);
  expect_close(bb.grad(), sum(gy, {0, 2, 3}), 1e-12, 1e-12);
}

TEST_CASE("max_pool2d: many planes against a reshape-and-amax reference") {
  // Kernel 2, stride 2 (which has its own fast path) on even and odd sizes: the odd last row
  // and column are dropped, as in PyTorch.
  Generator gen(11);
  for (const Dims& shape : {Dims{5, 7, 8, 6}, Dims{3, 4, 5, 7}}) {
    INFO(fmt::format("{}", shape));
    const Tensor x = normal64(shape, gen);
    const std::int64_t oh = shape[2] / 2, ow = shape[3] / 2;
    const Tensor ref = amax(
        x.narrow(2, 0, 2 * oh).narrow(3, 0, 2 * ow).reshape({shape[0], shape[1], oh, 2, ow, 2}),
        {3, 5});
    expect_close(F::max_pool2d(Variable(x), 2).value(), ref, 0.0, 0.0);
    expect_close(F::max_pool2d(Variable(x), 2, 2, 0).value(), ref, 0.0, 0.0);
  }
}
