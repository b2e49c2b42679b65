// Misuse of the nn layer throws seqgrad::Error with a message that names the op and the
// offending shapes, dtypes or values.
#include "nn/nn_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;
using doctest::Contains;
namespace F = seqgrad::nn::functional;

namespace {
Variable var(const Dims& shape, DType dtype = kFloat64) {
  return Variable(zeros(shape, dtype), true);
}
F::Conv2dOptions stride2() { return {2, 2, 0, 0, 1, 1}; }
}  // namespace

TEST_CASE("errors: linear shapes") {
  CHECK_THROWS_WITH_AS(F::linear(var({4, 3}), var({5, 2})), Contains("linear"), Error);
  CHECK_THROWS_WITH_AS(F::linear(var({4, 3}), var({5, 2})), Contains("[4, 3]"), Error);
  CHECK_THROWS_WITH_AS(F::linear(var({4, 3}), var({5, 2})), Contains("[5, 2]"), Error);
  CHECK_THROWS_WITH_AS(F::linear(var({4, 3}), var({5, 3, 1})), Contains("linear: weight"), Error);
  CHECK_THROWS_WITH_AS(F::linear(var({4, 3}), var({5, 3, 1})), Contains("[5, 3, 1]"), Error);
  CHECK_THROWS_WITH_AS(F::linear(var({4, 3}), var({5, 3}), var({4})), Contains("linear: bias"),
                       Error);
  CHECK_THROWS_WITH_AS(F::linear(var({4, 3}), var({5, 3}), var({4})), Contains("[4]"), Error);
  CHECK_THROWS_WITH_AS(F::linear(var({}), var({5, 3})), Contains("linear"), Error);
  CHECK_THROWS_WITH_AS(F::linear(var({4, 3}), var({5, 3}), Variable(zeros({5}, kFloat32))),
                       "linear: bias dtype float32 differs from the weight's float64", Error);
  nn::Linear layer(3, 2, true, kFloat64);
  CHECK_THROWS_WITH_AS(layer(var({2, 4})), Contains("[2, 4]"), Error);
  CHECK_THROWS_WITH_AS(nn::Linear(0, 2), Contains("Linear"), Error);
}

TEST_CASE("errors: conv2d shapes and options") {
  const Variable w = var({4, 3, 3, 3});
  CHECK_THROWS_WITH_AS(F::conv2d(var({3, 8, 8}), w, {}), Contains("conv2d: input"), Error);
  CHECK_THROWS_WITH_AS(F::conv2d(var({3, 8, 8}), w, {}), Contains("[3, 8, 8]"), Error);
  CHECK_THROWS_WITH_AS(F::conv2d(var({1, 3, 8, 8}), var({4, 3, 3}), {}), Contains("conv2d: weight"),
                       Error);
  // Channel mismatch names both shapes.
  CHECK_THROWS_WITH_AS(F::conv2d(var({1, 2, 8, 8}), w, {}), Contains("conv2d"), Error);
  CHECK_THROWS_WITH_AS(F::conv2d(var({1, 2, 8, 8}), w, {}), Contains("[1, 2, 8, 8]"), Error);
  CHECK_THROWS_WITH_AS(F::conv2d(var({1, 2, 8, 8}), w, {}), Contains("[4, 3, 3, 3]"), Error);
  CHECK_THROWS_WITH_AS(F::conv2d(var({1, 3, 8, 8}), w, var({3})), Contains("conv2d: bias"), Error);
  CHECK_THROWS_WITH_AS(F::conv2d(var({1, 3, 8, 8}), w, {}, {0, 1, 0, 0, 1, 1}),
                       Contains("conv2d: stride"), Error);
  CHECK_THROWS_WITH_AS(F::conv2d(var({1, 3, 8, 8}), w, {}, {1, 1, -1, 0, 1, 1}), Contains("conv2d"),
                       Error);
  CHECK_THROWS_WITH_AS(F::conv2d(var({1, 3, 8, 8}), var({4, 3, 3, 3}, kFloat32), {}),
                       Contains("conv2d: dtypes"), Error);
  // A kernel larger than the (padded) input.
  CHECK_THROWS_WITH_AS(F::conv2d(var({1, 3, 2, 2}), w, {}), Contains("conv2d: kernel 3x3"), Error);
  CHECK_THROWS_WITH_AS(F::conv2d(var({1, 3, 2, 2}), w, {}), Contains("[1, 3, 2, 2]"), Error);
  F::Conv2dOptions dilated;
  dilated.dilation_h = dilated.dilation_w = 3;  // the kernel spans 7 pixels
  CHECK_THROWS_WITH_AS(F::conv2d(var({1, 3, 6, 6}), w, {}, dilated), Contains("conv2d"), Error);
}

TEST_CASE("errors: conv2d rejects a kernel larger than the input for every stride") {
  // (in - k) / stride is negative here; it must not round to 0 and give a 1x1 output that reads
  // pixels outside the image (PyTorch: "Kernel size can't be greater than actual input size").
  const Variable w = var({1, 1, 3, 3});
  CHECK_THROWS_WITH_AS(F::conv2d(var({1, 1, 2, 2}), w, {}, stride2()), Contains("conv2d"), Error);
  CHECK_THROWS_WITH_AS(F::conv2d(var({1, 1, 2, 2}), w, {}, stride2()), Contains("[1, 1, 2, 2]"),
                       Error);
  CHECK_THROWS_WITH_AS(F::conv2d(var({1, 1, 2, 8}), w, {}, {3, 1, 0, 0, 1, 1}), Contains("conv2d"),
                       Error);
  // With padding the same kernel fits, and the output is what PyTorch gives.
  F::Conv2dOptions padded = stride2();
  padded.pad_h = padded.pad_w = 1;
  CHECK(F::conv2d(var({1, 1, 2, 2}), w, {}, padded).shape() == Dims{1, 1, 1, 1});
  CHECK_THROWS_WITH_AS(F::conv1d(var({1, 1, 2}), var({1, 1, 3}), {}, 2), Contains("conv1d"), Error);
}

TEST_CASE("errors: conv1d names itself and the 3-D shapes") {
  CHECK_THROWS_WITH_AS(F::conv1d(var({3, 8}), var({4, 3, 3}), {}), Contains("conv1d: input"),
                       Error);
  CHECK_THROWS_WITH_AS(F::conv1d(var({1, 3, 8}), var({4, 3}), {}), Contains("conv1d: weight"),
                       Error);
  CHECK_THROWS_WITH_AS(F::conv1d(var({1, 2, 8}), var({4, 3, 3}), {}), Contains("conv1d"), Error);
  CHECK_THROWS_WITH_AS(F::conv1d(var({1, 2, 8}), var({4, 3, 3}), {}), Contains("[1, 2, 8]"), Error);
  CHECK_THROWS_WITH_AS(F::conv1d(var({1, 2, 8}), var({4, 3, 3}), {}), Contains("[4, 3, 3]"), Error);
  CHECK_THROWS_WITH_AS(F::conv1d(var({1, 3, 2}), var({4, 3, 3}), {}), Contains("conv1d"), Error);
  CHECK_THROWS_WITH_AS(F::conv1d(var({1, 3, 2}), var({4, 3, 3}), {}), Contains("[1, 3, 2]"), Error);
}

TEST_CASE("errors: pooling shapes and options") {
  for (const char* op : {"max_pool2d", "avg_pool2d"}) {
    INFO(op);
    auto pool = [&](const Variable& x, std::int64_t k, std::int64_t s = 0, std::int64_t p = 0) {
      return std::string(op) == "max_pool2d" ? F::max_pool2d(x, k, s, p)
                                             : F::avg_pool2d(x, k, s, p);
    };
    CHECK_THROWS_WITH_AS(pool(var({3, 4, 4}), 2), Contains(op), Error);
    CHECK_THROWS_WITH_AS(pool(var({3, 4, 4}), 2), Contains("[3, 4, 4]"), Error);
    CHECK_THROWS_WITH_AS(pool(var({1, 1, 4, 4}), 0), Contains(op), Error);
    CHECK_THROWS_WITH_AS(pool(var({1, 1, 4, 4}), 2, -1), Contains("stride"), Error);
    CHECK_THROWS_WITH_AS(pool(var({1, 1, 4, 4}), 2, 2, 2), Contains("padding 2"), Error);
    CHECK_THROWS_WITH_AS(pool(var({1, 1, 4, 4}), 3, 1, -1), Contains(op), Error);
    CHECK_THROWS_WITH_AS(pool(var({1, 1, 2, 2}), 3), Contains(op), Error);
    CHECK_THROWS_WITH_AS(pool(var({1, 1, 2, 2}), 3), Contains("[1, 1, 2, 2]"), Error);
    // A window larger than the input, for a stride that would round (2 - 3) / 2 up to 0.
    CHECK_THROWS_WITH_AS(pool(var({1, 1, 2, 2}), 3, 2), Contains(op), Error);
    CHECK_THROWS_WITH_AS(pool(var({1, 1, 2, 6}), 3, 2), Contains("[1, 1, 2, 6]"), Error);
    CHECK(pool(var({1, 1, 2, 2}), 3, 2, 1).shape() == Dims{1, 1, 1, 1});  // fits with padding
  }
}

TEST_CASE("errors: cross_entropy targets") {
  const Variable logits = var({4, 3});
  CHECK_THROWS_WITH_AS(F::cross_entropy(logits, zeros({4}, kFloat32)), Contains("cross_entropy"),
                       Error);
  CHECK_THROWS_WITH_AS(F::cross_entropy(logits, zeros({4}, kFloat32)), Contains("float32"), Error);
  CHECK_THROWS_WITH_AS(F::cross_entropy(logits, i64({0, 1, 3, 2}, {4})),
                       Contains("cross_entropy: target 3 at position 2"), Error);
  CHECK_THROWS_WITH_AS(F::cross_entropy(logits, i64({0, 1, 3, 2}, {4})), Contains("3 classes"),
                       Error);
  CHECK_THROWS_WITH_AS(F::cross_entropy(logits, i64({0, -1, 1, 2}, {4})), Contains("target -1"),
                       Error);
  // ignore_index -100 is the default, so -100 is allowed but -1 is not, and vice versa.
  CHECK_NOTHROW(F::cross_entropy(logits, i64({0, -100, 1, 2}, {4})));
  CHECK_THROWS_WITH_AS(F::cross_entropy(logits, i64({0, -100, 1, 2}, {4}), F::Reduction::Mean, -1),
                       Contains("target -100"), Error);
  CHECK_THROWS_WITH_AS(F::cross_entropy(logits, i64({0, 1, 2, 0, 1}, {5})), Contains("[5]"), Error);
  CHECK_THROWS_WITH_AS(F::cross_entropy(logits, i64({0, 1, 2, 0, 1}, {5})), Contains("[4, 3]"),
                       Error);
  CHECK_THROWS_WITH_AS(F::cross_entropy(logits, i64({0, 1, 2, 0}, {2, 2})),
                       Contains("cross_entropy: target of shape [2, 2]"), Error);
  CHECK_THROWS_WITH_AS(F::cross_entropy(var({2, 3, 4}), i64({0, 1, 2, 0, 1, 2}, {2, 3})),
                       Contains("expected [2, 4]"), Error);
  CHECK_THROWS_WITH_AS(
      F::cross_entropy(logits, i64({0, 1, 2, 0}, {4}), F::Reduction::Mean, -100, 1.5),
      Contains("label_smoothing"), Error);
  CHECK_THROWS_WITH_AS(F::cross_entropy(Variable(zeros({4, 3}, kInt64)), i64({0, 1, 2, 0}, {4})),
                       Contains("cross_entropy"), Error);
  CHECK_THROWS_WITH_AS(F::cross_entropy(logits, Tensor()), Contains("cross_entropy"), Error);
}

TEST_CASE("errors: nll_loss, mse_loss and binary_cross_entropy_with_logits") {
  const Variable lp = var({4, 3});
  CHECK_THROWS_WITH_AS(F::nll_loss(lp, zeros({4}, kFloat64)), Contains("nll_loss"), Error);
  CHECK_THROWS_WITH_AS(F::nll_loss(lp, i64({0, 1, 7, 2}, {4})),
                       Contains("nll_loss: target 7 at position 2"), Error);
  CHECK_THROWS_WITH_AS(F::nll_loss(lp, i64({0, 1, 2}, {3})), Contains("nll_loss"), Error);
  CHECK_THROWS_WITH_AS(F::nll_loss(lp, i64({0, 1, 2}, {3})), Contains("[3]"), Error);
  CHECK_THROWS_WITH_AS(F::mse_loss(var({2, 3}), var({3, 2})), Contains("mse_loss"), Error);
  CHECK_THROWS_WITH_AS(F::mse_loss(var({2, 3}), var({3, 2})), Contains("[2, 3]"), Error);
  CHECK_THROWS_WITH_AS(F::mse_loss(var({2, 3}), var({3})), Contains("[3]"), Error);
  CHECK_THROWS_WITH_AS(F::binary_cross_entropy_with_logits(var({4}), var({4, 1})),
                       Contains("binary_cross_entropy_with_logits"), Error);
  CHECK_THROWS_WITH_AS(F::binary_cross_entropy_with_logits(var({4}), var({4, 1})),
                       Contains("[4, 1]"), Error);
}

TEST_CASE("errors: embedding, layer_norm and dropout") {
  const Variable w = var({5, 3});
  CHECK_THROWS_WITH_AS(F::embedding(zeros({2}, kFloat32), w), Contains("embedding"), Error);
  CHECK_THROWS_WITH_AS(F::embedding(i64({1}, {1}), var({5})), Contains("embedding: weight"), Error);
  CHECK_THROWS_AS(F::embedding(i64({5}, {1}), w), Error);  // out of range
  CHECK_THROWS_AS(F::embedding(i64({-6}, {1}), w), Error);
  CHECK_THROWS_WITH_AS(F::embedding(i64({1}, {1}), w, 5), Contains("embedding: padding_idx 5"),
                       Error);
  CHECK_THROWS_WITH_AS(F::embedding(i64({1}, {1}), w, -6), Contains("padding_idx -6"), Error);
  CHECK_THROWS_WITH_AS(nn::Embedding(5, 3, 5), Contains("padding_idx 5"), Error);
  CHECK_THROWS_WITH_AS(nn::Embedding(5, 3, -6), Contains("Embedding"), Error);
  CHECK(nn::Embedding(5, 3, -1).padding_idx == 4);  // negative counts from the end, as in PyTorch

  CHECK_THROWS_WITH_AS(F::layer_norm(var({2, 3}), {4}), Contains("layer_norm"), Error);
  CHECK_THROWS_WITH_AS(F::layer_norm(var({2, 3}), {4}), Contains("[2, 3]"), Error);
  CHECK_THROWS_WITH_AS(F::layer_norm(var({2, 3}), {1, 2, 3}), Contains("layer_norm"), Error);
  CHECK_THROWS_WITH_AS(F::layer_norm(var({2, 3}), {}), Contains("layer_norm"), Error);

  CHECK_THROWS_WITH_AS(F::dropout(var({2}), 1.5, true), Contains("dropout"), Error);
  CHECK_THROWS_WITH_AS(F::dropout(var({2}), -0.1, false), Contains("dropout"), Error);
  CHECK_THROWS_WITH_AS(nn::Dropout(2.0), Contains("Dropout"), Error);
}
