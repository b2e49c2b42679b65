#include "nn/conv_encoder.h"

#include <cmath>

#include "nn/init.h"

namespace seqgrad::nn {

namespace F = functional;

namespace {

// One value per position of a [B, S] batch, `real` where s < lengths[b] and 0 in the padding.
Tensor position_mask(std::int64_t B, std::int64_t S, const std::vector<std::int64_t>& lengths,
                     double real, DType dtype) {
  Tensor mask = zeros({B, S}, dtype);
  dispatch_floating(dtype, "ConvEncoder", [&]<class T>() {
    T* m = mask.data<T>();
    for (std::int64_t b = 0; b < B; ++b) {
      const std::int64_t n = lengths.empty() ? S : lengths[static_cast<std::size_t>(b)];
      std::fill_n(m + b * S, n, static_cast<T>(real));
    }
  });
  return mask;
}

void check_lengths(const std::vector<std::int64_t>& lengths, std::int64_t B, std::int64_t S,
                   const char* op) {
  if (lengths.empty()) return;
  check(static_cast<std::int64_t>(lengths.size()) == B, "{}: {} lengths for a batch of {} rows", op,
        lengths.size(), B);
  for (const std::int64_t n : lengths)
    check(n >= 1 && n <= S, "{}: a length of {} is outside [1, {}]", op, n, S);
}

}  // namespace

ConvEncoder::ConvEncoder(const ConvEncoderConfig& c) : Module("ConvEncoder"), config_(c) {
  check(c.vocab > 0 && c.emb > 0 && c.channels > 0 && c.out > 0 && c.max_positions > 0,
        "ConvEncoder: sizes must be positive, got vocab={} emb={} channels={} out={} "
        "max_positions={}",
        c.vocab, c.emb, c.channels, c.out, c.max_positions);
  check(c.layers >= 1, "ConvEncoder: the number of convolution layers must be at least 1, got {}",
        c.layers);
  check(c.kernel >= 1 && c.kernel % 2 == 1,
        "ConvEncoder: the kernel size must be odd and positive (the output of each position "
        "centred on it), got {}",
        c.kernel);
  check(c.dropout >= 0 && c.dropout < 1, "ConvEncoder: dropout must be in [0, 1), got {}",
        c.dropout);
  const double keep = 1.0 - c.dropout;
  const auto normal_linear = [&](std::int64_t in, std::int64_t out) {
    auto fc = std::make_shared<Linear>(in, out, true, c.dtype, c.gen);
    init::normal_(fc->weight.value(), 0.0, std::sqrt(keep / static_cast<double>(in)), c.gen);
    init::zeros_(fc->bias.value());
    return fc;
  };
  embed_tokens = register_module(
      "embed_tokens", std::make_shared<Embedding>(c.vocab, c.emb, std::nullopt, c.dtype, c.gen));
  embed_positions = register_module(
      "embed_positions",
      std::make_shared<Embedding>(c.max_positions, c.emb, std::nullopt, c.dtype, c.gen));
  fc1 = register_module("fc1", normal_linear(c.emb, c.channels));
  convolutions = register_module("convolutions", std::make_shared<Sequential>());
  const double conv_std = std::sqrt(4.0 * keep / static_cast<double>(c.kernel * c.channels));
  for (std::int64_t l = 0; l < c.layers; ++l) {
    auto conv = std::make_shared<Conv1d>(c.channels, 2 * c.channels, c.kernel, 1,
                                         (c.kernel - 1) / 2, 1, true, c.dtype, c.gen);
    init::normal_(conv->weight.value(), 0.0, conv_std, c.gen);
    init::zeros_(conv->bias.value());
    convolutions->add(conv);
  }
  fc2 = register_module("fc2", normal_linear(c.channels, c.out));
}

Variable ConvEncoder::forward(const Tensor& src, const std::vector<std::int64_t>& lengths) {
  check(src.dim() == 2 && src.dtype() == kInt64, "ConvEncoder: src must be int64 [B, S], got {} {}",
        src.dtype(), src.shape());
  const std::int64_t B = src.size(0), S = src.size(1);
  check(S <= config_.max_positions,
        "ConvEncoder: a source of {} tokens is longer than the position table ({}; raise "
        "--max-positions)",
        S, config_.max_positions);
  check_lengths(lengths, B, S, "ConvEncoder");
  const DType dt = config_.dtype;
  const bool training = is_training();
  // The residual scale rides on the mask: one multiply both zeroes the padding and scales.
  const Variable real(position_mask(B, S, lengths, 1.0, dt).view({B, 1, S}));
  const Variable scaled_real(position_mask(B, S, lengths, std::sqrt(0.5), dt).view({B, 1, S}));

  const Variable e = embed_tokens->forward(src) + embed_positions->forward(arange(S));
  const Variable x0 = fc1->forward(F::dropout(e, config_.dropout, training, config_.gen));
  Variable x = x0.transpose(1, 2) * real;  // [B, W, S]: channels first, as Conv1d reads them
  for (const auto& layer : convolutions->layers()) {
    const Variable y = layer->forward(F::dropout(x, config_.dropout, training, config_.gen));
    x = (F::glu(y, 1) + x) * scaled_real;
  }
  return fc2->forward(x.transpose(1, 2)) * Variable(real.value().view({B, S, 1}));
}

std::string ConvEncoder::extra_repr() const {
  return fmt::format("emb={}, channels={}, out={}, layers={}, kernel={}, max_positions={}",
                     config_.emb, config_.channels, config_.out, config_.layers, config_.kernel,
                     config_.max_positions);
}

Variable mean_of_zero_padded(const Variable& x, const std::vector<std::int64_t>& lengths) {
  check(x.dim() == 3, "mean_of_zero_padded: x must be [B, S, D], got {}", x.shape());
  const std::int64_t B = x.size(0), S = x.size(1);
  check_lengths(lengths, B, S, "mean_of_zero_padded");
  std::vector<double> inverse(static_cast<std::size_t>(B), 1.0 / static_cast<double>(S));
  for (std::size_t b = 0; b < lengths.size(); ++b)
    inverse[b] = 1.0 / static_cast<double>(lengths[b]);
  return sum(x, {1}) * Variable(from_vector(inverse, {B, 1}).to(x.dtype()));
}

}  // namespace seqgrad::nn
