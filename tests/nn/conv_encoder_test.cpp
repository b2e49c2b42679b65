// The convolutional encoder (nn/conv_encoder.h) and its GLU (nn/functional_glu.cpp): gradcheck on
// a ragged batch, padding that never reaches a real position (in value or in gradient), a row
// batched = the row alone, and one clear error per bad configuration.
#include <memory>
#include <vector>

#include "nn/nn_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;

namespace {

using Vars = std::vector<Variable>;

nn::ConvEncoderConfig small_encoder(DType dtype, Generator* gen) {
  return {.vocab = 7,
          .emb = 3,
          .channels = 4,
          .out = 3,
          .layers = 2,
          .kernel = 3,
          .max_positions = 6,
          .dropout = 0.0,
          .dtype = dtype,
          .gen = gen};
}

// Every parameter member of the encoder, in registration order: gradcheck's leaves replace them.
std::vector<Variable*> parameter_slots(nn::ConvEncoder& enc) {
  std::vector<Variable*> slots{&enc.embed_tokens->weight, &enc.embed_positions->weight,
                               &enc.fc1->weight, &enc.fc1->bias};
  for (const auto& layer : enc.convolutions->layers()) {
    auto* conv = dynamic_cast<nn::Conv1d*>(layer.get());
    REQUIRE(conv != nullptr);
    slots.push_back(&conv->weight);
    slots.push_back(&conv->bias);
  }
  slots.push_back(&enc.fc2->weight);
  slots.push_back(&enc.fc2->bias);
  return slots;
}

// Rows {4 5 6 2 3}, {3 4 2 . .}, {6 . . . .}: lengths 5, 3 and 1, padding `pad`.
Tensor ragged_source(std::int64_t pad) {
  return i64({4, 5, 6, 2, 3, 3, 4, 2, pad, pad, 6, pad, pad, pad, pad}, {3, 5});
}
const std::vector<std::int64_t> kLengths{5, 3, 1};

// [B, S, D] -> the rows' real positions only, as one flat list.
std::vector<double> real_positions(const Tensor& out, const std::vector<std::int64_t>& lengths) {
  std::vector<double> v;
  for (std::int64_t b = 0; b < out.size(0); ++b) {
    const auto row = out.select(0, b).narrow(0, 0, lengths[static_cast<std::size_t>(b)]);
    for (const double x : row.to(kFloat64).contiguous().to_vector<double>()) v.push_back(x);
  }
  return v;
}

}  // namespace

TEST_CASE("glu: gradcheck along any dim, and equal to narrow, sigmoid and mul") {
  Generator gen(61);
  CHECK_GRADCHECK([](const Vars& v) { return F::glu(v[0], 1); }, {normal64({2, 4, 3}, gen)});
  CHECK_GRADCHECK([](const Vars& v) { return F::glu(v[0]); }, {normal64({3, 2}, gen)});
  CHECK_GRADCHECK([](const Vars& v) { return F::glu(v[0].transpose(0, 1), 0); },
                  {normal64({3, 6}, gen)});
  const Tensor x = randn({2, 6, 5}, kFloat32, &gen) * 3.0;
  const Tensor w = randn({2, 3, 5}, kFloat32, &gen);
  const auto fused = output_and_grads({x}, w, [](const Vars& v) { return F::glu(v[0], 1); });
  const auto composed = output_and_grads(
      {x}, w, [](const Vars& v) { return v[0].narrow(1, 0, 3) * sigmoid(v[0].narrow(1, 3, 3)); });
  for (std::size_t i = 0; i < fused.size(); ++i) expect_close(fused[i], composed[i], 1e-5, 1e-6);
  CHECK_THROWS_WITH_AS(F::glu(Variable(zeros({2, 3})), 1),
                       "glu: dim 1 of shape [2, 3] must have an even size, got 3", Error);
}

TEST_CASE("ConvEncoder: gradcheck in float64 on a ragged batch") {
  Generator gen(62);
  nn::ConvEncoder enc(small_encoder(kFloat64, &gen));
  const std::vector<Variable*> slots = parameter_slots(enc);
  REQUIRE(slots.size() == enc.parameters().size());
  std::vector<Tensor> inputs;
  for (Variable* p : slots) inputs.push_back(p->value());
  const Tensor src = ragged_source(0);
  CHECK_GRADCHECK(
      [&](const Vars& v) {
        for (std::size_t i = 0; i < slots.size(); ++i) *slots[i] = v[i];
        return enc.forward(src, kLengths);
      },
      inputs);
}

TEST_CASE("ConvEncoder: padding reaches no real position, in value or in gradient") {
  Generator gen(63);
  nn::ConvEncoderConfig c = small_encoder(kFloat32, &gen);
  c.channels = 8;
  c.layers = 3;
  nn::ConvEncoder enc(c);
  enc.eval();
  const Tensor out = enc.forward(ragged_source(0), kLengths).value();
  // Other tokens in every padded position (row 0 has none: rows 1 and 2 do), and a token, 1, that
  // only the padding holds: its embedding must get no gradient.
  const Tensor other = i64({4, 5, 6, 2, 3, 3, 4, 2, 1, 1, 6, 1, 1, 1, 1}, {3, 5});
  const Variable changed = enc.forward(other, kLengths);
  CHECK(real_positions(changed.value(), kLengths) == real_positions(out, kLengths));
  for (std::int64_t b = 1; b < 3; ++b) {  // the outputs at the padding are zero
    const std::int64_t n = kLengths[static_cast<std::size_t>(b)];
    const Tensor padded = changed.value().select(0, b).narrow(0, n, 5 - n);
    CHECK(sum(abs(Variable(padded))).item() == 0.0);
  }
  enc.zero_grad();
  sum(changed * Variable(randn(changed.shape(), kFloat32, &gen))).backward();
  const Tensor g = enc.embed_tokens->weight.grad();
  REQUIRE(g.defined());
  CHECK(sum(abs(Variable(g.select(0, 1)))).item() == 0.0);
  CHECK(sum(abs(Variable(g.select(0, 4)))).item() > 0.0);
}

TEST_CASE("ConvEncoder: a row in a padded batch gives what it gives alone") {
  Generator gen(64);
  nn::ConvEncoderConfig c = small_encoder(kFloat32, &gen);
  c.kernel = 5;
  nn::ConvEncoder enc(c);
  enc.eval();
  const Tensor src = ragged_source(0);
  const Tensor out = enc.forward(src, kLengths).value();
  for (std::int64_t b = 0; b < 3; ++b) {
    CAPTURE(b);
    const std::int64_t n = kLengths[static_cast<std::size_t>(b)];
    const Tensor alone = enc.forward(src.narrow(0, b, 1).narrow(1, 0, n).contiguous(), {n}).value();
    expect_close(alone, out.narrow(0, b, 1).narrow(1, 0, n), 1e-5, 1e-6);
  }
  // The mean over the real positions equals each row's own mean.
  const Tensor mean = nn::mean_of_zero_padded(Variable(out), kLengths).value();
  for (std::int64_t b = 0; b < 3; ++b) {
    const std::int64_t n = kLengths[static_cast<std::size_t>(b)];
    expect_close(mean.select(0, b),
                 seqgrad::mean(Variable(out.select(0, b).narrow(0, 0, n)), {0}).value(), 1e-5,
                 1e-6);
  }
}

TEST_CASE("ConvEncoder: bad configurations and inputs are one clear error") {
  Generator gen(65);
  const auto with = [&](auto change) {
    nn::ConvEncoderConfig c = small_encoder(kFloat32, &gen);
    change(c);
    return c;
  };
  CHECK_THROWS_WITH_AS(nn::ConvEncoder(with([](auto& c) { c.kernel = 0; })),
                       "ConvEncoder: the kernel size must be odd and positive (the output of each "
                       "position centred on it), got 0",
                       Error);
  CHECK_THROWS_WITH_AS(nn::ConvEncoder(with([](auto& c) { c.kernel = 4; })),
                       "ConvEncoder: the kernel size must be odd and positive (the output of each "
                       "position centred on it), got 4",
                       Error);
  CHECK_THROWS_WITH_AS(nn::ConvEncoder(with([](auto& c) { c.layers = 0; })),
                       "ConvEncoder: the number of convolution layers must be at least 1, got 0",
                       Error);
  nn::ConvEncoder enc(small_encoder(kFloat32, &gen));
  CHECK_THROWS_WITH_AS(enc.forward(zeros({2, 7}, kInt64), {}),
                       "ConvEncoder: a source of 7 tokens is longer than the position table (6; "
                       "raise --max-positions)",
                       Error);
  CHECK_THROWS_WITH_AS(enc.forward(zeros({2, 3}, kInt64), {3, 0}),
                       "ConvEncoder: a length of 0 is outside [1, 3]", Error);
}
