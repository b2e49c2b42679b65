// gradcheck (float64 central differences, autograd/gradcheck.h) for every functional op of the
// layers and for the Layer classes built with dtype kFloat64: linear, embedding, conv2d, conv1d,
// max_pool2d, avg_pool2d, dropout, layer_norm and gelu.
#include <string>
#include <vector>

#include "nn/nn_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;

using Vars = std::vector<Variable>;

TEST_CASE("gradcheck: linear") {
  Generator gen(31);
  SUBCASE("2-D input with bias") {
    CHECK_GRADCHECK([](const Vars& v) { return F::linear(v[0], v[1], v[2]); },
                    {normal64({3, 4}, gen), normal64({5, 4}, gen), normal64({5}, gen)});
  }
  SUBCASE("2-D input without bias") {
    CHECK_GRADCHECK([](const Vars& v) { return F::linear(v[0], v[1]); },
                    {normal64({3, 4}, gen), normal64({2, 4}, gen)});
  }
  SUBCASE("3-D input with bias") {
    CHECK_GRADCHECK([](const Vars& v) { return F::linear(v[0], v[1], v[2]); },
                    {normal64({2, 3, 4}, gen), normal64({3, 4}, gen), normal64({3}, gen)});
  }
  SUBCASE("3-D input without bias") {
    CHECK_GRADCHECK([](const Vars& v) { return F::linear(v[0], v[1]); },
                    {normal64({2, 2, 3}, gen), normal64({4, 3}, gen)});
  }
  SUBCASE("1-D input") {
    CHECK_GRADCHECK([](const Vars& v) { return F::linear(v[0], v[1], v[2]); },
                    {normal64({4}, gen), normal64({2, 4}, gen), normal64({2}, gen)});
  }
  SUBCASE("non-contiguous input") {
    CHECK_GRADCHECK([](const Vars& v) { return F::linear(v[0].t(), v[1], v[2]); },
                    {normal64({4, 3}, gen), normal64({2, 4}, gen), normal64({2}, gen)});
  }
}

TEST_CASE("gradcheck: embedding with repeated ids") {
  Generator gen(32);
  const Tensor ids = i64({1, 3, 1, 0, 3, 3}, {2, 3});
  CHECK_GRADCHECK([&](const Vars& v) { return F::embedding(ids, v[0]); }, {normal64({5, 3}, gen)});
  // Any row but the padding one: the padding row's gradient is zero by design (see
  // layers_forward_test.cpp), which finite differences cannot agree with.
  CHECK_GRADCHECK([&](const Vars& v) { return F::embedding(ids, v[0], /*padding_idx=*/2); },
                  {normal64({5, 3}, gen)});
}

TEST_CASE("gradcheck: embedding with padding_idx gives exactly zero to the padding row") {
  Generator gen(33);
  const Tensor ids = i64({1, 2, 2, 0}, {4});
  // The rows other than the padding row are checked by gradcheck on a function of them alone.
  const Tensor pad_row = normal64({1, 3}, gen);
  CHECK_GRADCHECK(
      [&](const Vars& v) {
        const Variable weight = cat({v[0], Variable(pad_row), v[1]}, 0);  // rows 0-1, 2, 3
        return F::embedding(ids, weight, 2);
      },
      {normal64({2, 3}, gen), normal64({1, 3}, gen)});
  const Variable weight(cat({normal64({2, 3}, gen), pad_row, normal64({1, 3}, gen)}, 0), true);
  weighted_sum(F::embedding(ids, weight, 2), normal64({4, 3}, gen)).backward();
  expect_values(weight.grad().select(0, 2), {3}, {0, 0, 0});
}

namespace {

struct ConvCase {
  const char* name;
  Dims x, w;
  F::Conv2dOptions o;
  bool bias;
};

F::Conv2dOptions conv_options(std::int64_t stride, std::int64_t pad, std::int64_t dilation) {
  return {stride, stride, pad, pad, dilation, dilation};
}

}  // namespace

TEST_CASE("gradcheck: conv2d") {
  Generator gen(34);
  const std::vector<ConvCase> cases = {
      {"stride 1", {2, 2, 4, 5}, {3, 2, 3, 3}, conv_options(1, 0, 1), true},
      {"stride 2", {1, 2, 6, 5}, {2, 2, 3, 3}, conv_options(2, 0, 1), true},
      {"padding 1", {2, 1, 4, 4}, {2, 1, 3, 3}, conv_options(1, 1, 1), true},
      {"stride 2 padding 1", {1, 3, 5, 5}, {2, 3, 3, 3}, conv_options(2, 1, 1), true},
      {"dilation 2", {1, 2, 6, 6}, {2, 2, 2, 3}, conv_options(1, 0, 2), true},
      {"dilation 2 padding 1 without bias",
       {2, 2, 5, 5},
       {3, 2, 3, 3},
       conv_options(1, 1, 2),
       false},
      {"without bias", {2, 3, 4, 4}, {2, 3, 2, 2}, conv_options(1, 0, 1), false},
      {"several channels, 1x1 kernel", {2, 4, 3, 3}, {3, 4, 1, 1}, conv_options(1, 0, 1), true},
      {"asymmetric stride, padding and dilation",
       {1, 2, 6, 7},
       {2, 2, 3, 2},
       {2, 1, 1, 0, 1, 2},
       true},
  };
  for (const ConvCase& c : cases) {
    INFO("conv2d ", std::string(c.name));
    std::vector<Tensor> inputs = {normal64(c.x, gen), normal64(c.w, gen)};
    if (c.bias) inputs.push_back(normal64({c.w[0]}, gen));
    CHECK_GRADCHECK(
        [&](const Vars& v) { return F::conv2d(v[0], v[1], c.bias ? v[2] : Variable(), c.o); },
        inputs);
  }
}

TEST_CASE("gradcheck: conv1d") {
  Generator gen(35);
  SUBCASE("stride 1 with bias") {
    CHECK_GRADCHECK([](const Vars& v) { return F::conv1d(v[0], v[1], v[2]); },
                    {normal64({2, 3, 6}, gen), normal64({2, 3, 3}, gen), normal64({2}, gen)});
  }
  SUBCASE("stride 2 padding 1 dilation 2") {
    CHECK_GRADCHECK([](const Vars& v) { return F::conv1d(v[0], v[1], v[2], 2, 1, 2); },
                    {normal64({2, 2, 9}, gen), normal64({3, 2, 3}, gen), normal64({3}, gen)});
  }
  SUBCASE("without bias") {
    CHECK_GRADCHECK([](const Vars& v) { return F::conv1d(v[0], v[1], {}, 1, 1); },
                    {normal64({1, 2, 5}, gen), normal64({2, 2, 2}, gen)});
  }
}

TEST_CASE("gradcheck: max_pool2d on inputs without ties") {
  Generator gen(36);
  struct Case {
    Dims x;
    std::int64_t kernel, stride, padding;
  };
  for (const Case& c : {Case{{2, 2, 4, 4}, 2, 2, 0}, Case{{1, 2, 5, 6}, 3, 2, 1},
                        Case{{2, 1, 5, 5}, 3, 1, 0}, Case{{1, 3, 4, 5}, 2, 1, 1}}) {
    INFO(fmt::format("x {} kernel {} stride {} padding {}", c.x, c.kernel, c.stride, c.padding));
    CHECK_GRADCHECK(
        [&](const Vars& v) { return F::max_pool2d(v[0], c.kernel, c.stride, c.padding); },
        {distinct64(c.x, gen)});
  }
}

TEST_CASE("gradcheck: avg_pool2d with and without padding") {
  Generator gen(37);
  struct Case {
    Dims x;
    std::int64_t kernel, stride, padding;
  };
  for (const Case& c : {Case{{2, 2, 4, 4}, 2, 2, 0}, Case{{1, 2, 5, 6}, 3, 2, 1},
                        Case{{2, 1, 4, 4}, 3, 1, 1}, Case{{1, 2, 5, 5}, 2, 1, 1}}) {
    INFO(fmt::format("x {} kernel {} stride {} padding {}", c.x, c.kernel, c.stride, c.padding));
    CHECK_GRADCHECK(
        [&](const Vars& v) { return F::avg_pool2d(v[0], c.kernel, c.stride, c.padding); },
        {normal64(c.x, gen)});
  }
}

TEST_CASE("gradcheck: dropout") {
  Generator gen(38);
  const Tensor x = normal64({4, 5}, gen);
  SUBCASE("eval mode is the identity") {
    CHECK_GRADCHECK([](const Vars& v) { return F::dropout(v[0], 0.5, /*training=*/false); }, {x});
  }
  SUBCASE("train mode with the same seed in each call, so the mask is the same") {
    auto fn = [](const Vars& v) {
      Generator mask_gen(99);
      return F::dropout(v[0], 0.4, /*training=*/true, &mask_gen);
    };
    // The mask does drop some elements and keep others, so both gradients (0 and 1/(1-p)) occur.
    const Tensor y = fn({Variable(x)}).value();
    REQUIRE(sum(eq(y, 0.0).to(kFloat64)).item() > 0);
    REQUIRE(sum(ne(y, 0.0).to(kFloat64)).item() > 0);
    CHECK_GRADCHECK(fn, {x});
  }
}

TEST_CASE("gradcheck: layer_norm") {
  Generator gen(39);
  SUBCASE("affine over 1 dim") {
    CHECK_GRADCHECK([](const Vars& v) { return F::layer_norm(v[0], {4}, v[1], v[2]); },
                    {normal64({3, 4}, gen), normal64({4}, gen), normal64({4}, gen)});
  }
  SUBCASE("affine over 2 dims") {
    CHECK_GRADCHECK(
        [](const Vars& v) {
          return F::layer_norm(v[0], {2, 3}, v[1], v[2]);
        },
        {normal64({2, 2, 3}, gen), normal64({2, 3}, gen), normal64({2, 3}, gen)});
  }
  SUBCASE("weight only, bias only") {
    CHECK_GRADCHECK([](const Vars& v) { return F::layer_norm(v[0], {4}, v[1], {}); },
                    {normal64({3, 4}, gen), normal64({4}, gen)});
    CHECK_GRADCHECK(
        [](const Vars& v) {
          return F::layer_norm(v[0], {2, 2}, {}, v[1]);
        },
        {normal64({3, 2, 2}, gen), normal64({2, 2}, gen)});
  }
  SUBCASE("many rows, split over 2 threads") {
    const RestoreOneThread restore;
    set_num_threads(2);
    CHECK_GRADCHECK([](const Vars& v) { return F::layer_norm(v[0], {3}, v[1], v[2]); },
                    {normal64({40, 3}, gen), normal64({3}, gen), normal64({3}, gen)});
  }
  SUBCASE("without affine over 1 dim") {
    CHECK_GRADCHECK([](const Vars& v) { return F::layer_norm(v[0], {5}); },
                    {normal64({2, 3, 5}, gen)});
  }
  SUBCASE("without affine over 2 dims") {
    CHECK_GRADCHECK(
        [](const Vars& v) {
          return F::layer_norm(v[0], {3, 2}, {}, {}, 1e-3);
        },
        {normal64({2, 3, 2}, gen)});
  }
}

TEST_CASE("gradcheck: gelu") {
  Generator gen(40);
  CHECK_GRADCHECK([](const Vars& v) { return F::gelu(v[0]); }, {normal64({3, 4}, gen) * 2.0});
}

// --- the Layer classes with dtype kFloat64
// -------------------------------------------------------- gradcheck makes its own leaves, so each
// function points the layer's parameter members at them: forward() then computes with gradcheck's
// inputs, through the layer's own options.

TEST_CASE("gradcheck: Linear layer") {
  Generator gen(41);
  nn::Linear layer(4, 3, true, kFloat64, &gen);
  REQUIRE(layer.weight.dtype() == kFloat64);
  CHECK_GRADCHECK(
      [&](const Vars& v) {
        layer.weight = v[1];
        layer.bias = v[2];
        return layer(v[0]);
      },
      {normal64({2, 3, 4}, gen), layer.weight.value(), layer.bias.value()});
  nn::Linear no_bias(3, 2, false, kFloat64, &gen);
  CHECK_GRADCHECK(
      [&](const Vars& v) {
        no_bias.weight = v[1];
        return no_bias(v[0]);
      },
      {normal64({4, 3}, gen), no_bias.weight.value()});
}

TEST_CASE("gradcheck: Conv2d and Conv1d layers") {
  Generator gen(42);
  nn::Conv2d conv(2, 3, 3, /*stride=*/2, /*padding=*/1, /*dilation=*/1, true, kFloat64, &gen);
  CHECK_GRADCHECK(
      [&](const Vars& v) {
        conv.weight = v[1];
        conv.bias = v[2];
        return conv(v[0]);
      },
      {normal64({2, 2, 5, 5}, gen), conv.weight.value(), conv.bias.value()});
  nn::Conv2d dilated(2, 2, 2, 1, 1, /*dilation=*/2, /*bias=*/false, kFloat64, &gen);
  CHECK_GRADCHECK(
      [&](const Vars& v) {
        dilated.weight = v[1];
        return dilated(v[0]);
      },
      {normal64({1, 2, 4, 4}, gen), dilated.weight.value()});
  nn::Conv1d conv1(2, 3, 3, 2, 1, 1, true, kFloat64, &gen);
  CHECK_GRADCHECK(
      [&](const Vars& v) {
        conv1.weight = v[1];
        conv1.bias = v[2];
        return conv1(v[0]);
      },
      {normal64({2, 2, 7}, gen), conv1.weight.value(), conv1.bias.value()});
}

TEST_CASE("gradcheck: LayerNorm, pooling, Dropout and activation layers") {
  Generator gen(43);
  nn::LayerNorm norm({2, 3}, 1e-5, true, kFloat64);
  CHECK_GRADCHECK(
      [&](const Vars& v) {
        norm.weight = v[1];
        norm.bias = v[2];
        return norm(v[0]);
      },
      {normal64({2, 2, 3}, gen), normal64({2, 3}, gen), normal64({2, 3}, gen)});
  nn::LayerNorm plain({4}, 1e-5, false, kFloat64);
  CHECK_GRADCHECK([&](const Vars& v) { return plain(v[0]); }, {normal64({3, 4}, gen)});

  nn::MaxPool2d max_pool(3, 2, 1);
  CHECK_GRADCHECK([&](const Vars& v) { return max_pool(v[0]); }, {distinct64({1, 2, 5, 5}, gen)});
  nn::AvgPool2d avg_pool(3, 2, 1);
  CHECK_GRADCHECK([&](const Vars& v) { return avg_pool(v[0]); }, {normal64({1, 2, 5, 5}, gen)});

  nn::Dropout dropout(0.3);
  dropout.eval();
  CHECK_GRADCHECK([&](const Vars& v) { return dropout(v[0]); }, {normal64({3, 3}, gen)});

  CHECK_GRADCHECK([](const Vars& v) { return nn::GELU()(v[0]); }, {normal64({3, 3}, gen)});
  CHECK_GRADCHECK([](const Vars& v) { return nn::Tanh()(v[0]); }, {normal64({3, 3}, gen)});
  CHECK_GRADCHECK([](const Vars& v) { return nn::Sigmoid()(v[0]); }, {normal64({3, 3}, gen)});
  CHECK_GRADCHECK([](const Vars& v) { return nn::ReLU()(v[0]); }, {away_from_zero64({3, 3}, gen)});
  CHECK_GRADCHECK([](const Vars& v) { return nn::Flatten()(v[0]); }, {normal64({2, 2, 3}, gen)});
}

TEST_CASE("gradcheck: Embedding layer") {
  Generator gen(44);
  nn::Embedding emb(5, 3, std::nullopt, kFloat64, &gen);
  const Tensor ids = i64({4, 0, 4, 2}, {2, 2});
  CHECK_GRADCHECK(
      [&](const Vars& v) {
        emb.weight = v[0];
        return emb(ids);
      },
      {emb.weight.value()});
}

TEST_CASE("gradcheck: a small CNN through the input, end to end") {
  Generator gen(45);
  nn::Sequential net;
  net.add(std::make_shared<nn::Conv2d>(1, 2, 3, 1, 1, 1, true, kFloat64, &gen))
      .add(std::make_shared<nn::Tanh>())
      .add(std::make_shared<nn::AvgPool2d>(2))
      .add(std::make_shared<nn::Flatten>())
      .add(std::make_shared<nn::Linear>(2 * 2 * 2, 3, true, kFloat64, &gen));
  const Tensor target = i64({2, 0}, {2});
  CHECK_GRADCHECK([&](const Vars& v) { return F::cross_entropy(net(v[0]), target); },
                  {normal64({2, 1, 4, 4}, gen)});
}

TEST_CASE("gradcheck: ops whose output is used through a transpose get non-contiguous gradients") {
  Generator gen(46);
  const Tensor ids = i64({2, 0, 2}, {3});
  CHECK_GRADCHECK([](const Vars& v) { return F::linear(v[0], v[1], v[2]).transpose(0, 1); },
                  {normal64({3, 4}, gen), normal64({2, 4}, gen), normal64({2}, gen)});
  CHECK_GRADCHECK(
      [](const Vars& v) {
        return F::conv2d(v[0], v[1], v[2], conv_options(1, 1, 1)).permute({3, 1, 0, 2});
      },
      {normal64({3, 2, 4, 3}, gen), normal64({2, 2, 3, 3}, gen), normal64({2}, gen)});
  CHECK_GRADCHECK([](const Vars& v) { return F::conv1d(v[0], v[1], {}, 2, 1).transpose(0, 2); },
                  {normal64({3, 2, 7}, gen), normal64({2, 2, 3}, gen)});
  CHECK_GRADCHECK([](const Vars& v) { return F::max_pool2d(v[0], 2).transpose(0, 3); },
                  {distinct64({3, 2, 4, 4}, gen)});
  CHECK_GRADCHECK([](const Vars& v) { return F::max_pool2d(v[0], 3, 2, 1).transpose(2, 3); },
                  {distinct64({2, 2, 5, 5}, gen)});
  CHECK_GRADCHECK([](const Vars& v) { return F::avg_pool2d(v[0], 3, 1, 1).transpose(1, 3); },
                  {normal64({2, 2, 4, 3}, gen)});
  CHECK_GRADCHECK([&](const Vars& v) { return F::embedding(ids, v[0]).t(); },
                  {normal64({4, 3}, gen)});
  CHECK_GRADCHECK([](const Vars& v) { return F::gelu(v[0]).t(); }, {normal64({3, 4}, gen)});
  CHECK_GRADCHECK(
      [](const Vars& v) {
        return F::cross_entropy(v[0], i64({0, 2, -100, 1, 1, 0}, {2, 3}), F::Reduction::None, -100,
                                0.1)
            .t();
      },
      {normal64({2, 3, 3}, gen)});
}

TEST_CASE("gradcheck: conv2d and max_pool2d over a batch larger than the thread count") {
  Generator gen(47);
  CHECK_GRADCHECK([](const Vars& v) { return F::conv2d(v[0], v[1], v[2]); },
                  {normal64({9, 1, 3, 3}, gen), normal64({2, 1, 2, 2}, gen), normal64({2}, gen)});
  CHECK_GRADCHECK([](const Vars& v) { return F::max_pool2d(v[0], 2); },
                  {distinct64({9, 2, 2, 4}, gen)});
}
