#include "nn/transformer.h"

#include <cmath>

#include "nn/init.h"

namespace seqgrad::nn {

namespace F = functional;

Tensor sinusoidal_positions(std::int64_t n, std::int64_t d, DType dtype) {
  check(n >= 0 && d >= 1, "sinusoidal_positions: need n >= 0 and d >= 1, got n={} d={}", n, d);
  std::vector<double> p(static_cast<std::size_t>(n * d));
  for (std::int64_t pos = 0; pos < n; ++pos)
    for (std::int64_t i = 0; i < d; i += 2) {
      const double angle = static_cast<double>(pos) /
                           std::pow(10000.0, static_cast<double>(i) / static_cast<double>(d));
      p[static_cast<std::size_t>(pos * d + i)] = std::sin(angle);
      if (i + 1 < d) p[static_cast<std::size_t>(pos * d + i + 1)] = std::cos(angle);
    }
  return from_vector(p, {n, d}).to(dtype);
}

// --- MultiheadAttention
// ---------------------------------------------------------------------------

MultiheadAttention::MultiheadAttention(std::int64_t d, std::int64_t h, double p, DType dtype,
                                       Generator* gen)
    : Module("MultiheadAttention"), embed_dim(d), heads(h), dropout(p), gen_(gen) {
  check(d >= 1 && h >= 1 && d % h == 0,
        "MultiheadAttention: heads ({}) must divide embed_dim ({}), both positive", h, d);
  check(p >= 0 && p < 1, "MultiheadAttention: dropout must be in [0, 1), got {}", p);
  // PyTorch: xavier_uniform_ in_proj_weight, zero biases, out_proj a Linear.
  in_proj_weight = register_parameter("in_proj_weight",
                                      init::xavier_uniform_(empty({3 * d, d}, dtype), 1.0, gen));
  in_proj_bias = register_parameter("in_proj_bias", zeros({3 * d}, dtype));
  out_proj = register_module("out_proj", std::make_shared<Linear>(d, d, true, dtype, gen));
  out_proj->bias.value().zero_();
}

std::string MultiheadAttention::extra_repr() const {
  return fmt::format("embed_dim={}, num_heads={}, dropout={}", embed_dim, heads, dropout);
}

Variable MultiheadAttention::project(const Variable& x, std::int64_t part, std::int64_t parts) {
  const std::int64_t D = embed_dim;
  return F::linear(x, in_proj_weight.narrow(0, part * D, parts * D),
                   in_proj_bias.narrow(0, part * D, parts * D));
}

Variable MultiheadAttention::attend(const Variable& q, const Variable& k, const Variable& v,
                                    const F::AttentionMask& mask) {
  return out_proj->forward(
      F::scaled_dot_product_attention(q, k, v, heads, mask, dropout, is_training(), gen_));
}

Variable MultiheadAttention::self_attention(const Variable& x, const F::AttentionMask& mask) {
  const std::int64_t D = embed_dim;
  const Variable qkv = project(x, 0, 3);  // [B, T, 3D] or [N, 3D], read in place by the attention
  const std::int64_t last = qkv.dim() - 1;
  return attend(qkv.narrow(last, 0, D), qkv.narrow(last, D, D), qkv.narrow(last, 2 * D, D), mask);
}

Variable MultiheadAttention::cross_attention(const Variable& x, const Variable& memory,
                                             const F::AttentionMask& mask) {
  const std::int64_t D = embed_dim;
  const Variable kv = project(memory, 1, 2);  // [B, S, 2D] or [N, 2D]
  const std::int64_t last = kv.dim() - 1;
  return attend(project(x, 0, 1), kv.narrow(last, 0, D), kv.narrow(last, D, D), mask);
}

Tensor MultiheadAttention::self_attention_step(const Tensor& x, KeyValueCache& cache) {
  NoGradGuard no_grad;
  const std::int64_t D = embed_dim;
  const Tensor qkv = project(Variable(x), 0, 3).value();  // [N, 1, 3D]
  const Tensor k = qkv.narrow(2, D, D), v = qkv.narrow(2, 2 * D, D);
  const bool empty = !cache.k.defined() || cache.k.size(1) == 0;
  cache.k = empty ? k.contiguous() : seqgrad::cat({cache.k, k}, 1);
  cache.v = empty ? v.contiguous() : seqgrad::cat({cache.v, v}, 1);
  return attend(Variable(qkv.narrow(2, 0, D)), Variable(cache.k), Variable(cache.v), {}).value();
}

KeyValueCache MultiheadAttention::memory_keys_values(const Tensor& memory) {
  NoGradGuard no_grad;
  const std::int64_t D = embed_dim;
  const Tensor kv = project(Variable(memory), 1, 2).value();
  return {kv.narrow(2, 0, D).contiguous(), kv.narrow(2, D, D).contiguous()};
}

Tensor MultiheadAttention::cross_attention_step(const Tensor& x, const KeyValueCache& memory,
                                                const std::vector<std::int64_t>& memory_lengths) {
  NoGradGuard no_grad;
  return attend(project(Variable(x), 0, 1), Variable(memory.k), Variable(memory.v),
                {memory_lengths, false})
      .value();
}

Tensor MultiheadAttention::cross_attention_step_weights(
    const Tensor& x, const KeyValueCache& memory, const std::vector<std::int64_t>& memory_lengths) {
  NoGradGuard no_grad;
  return F::attention_weights(project(Variable(x), 0, 1).value(), memory.k, heads,
                              {memory_lengths, false});
}

Tensor MultiheadAttention::weights(const Tensor& x, const Tensor& memory,
                                   const F::AttentionMask& mask) {
  NoGradGuard no_grad;
  const Tensor q = project(Variable(x), 0, 1).value();
  const Tensor k = project(Variable(memory), 1, 1).value();
  return F::attention_weights(q, k, heads, mask);
}

// --- encoder and decoder layers
// -------------------------------------------------------------------

namespace {

void check_layer_config(const TransformerLayerConfig& c, const char* what) {
  check(c.d_model >= 1 && c.heads >= 1 && c.ffn >= 1 && c.d_model % c.heads == 0,
        "{}: d_model ({}) must be a positive multiple of heads ({}), ffn ({}) positive", what,
        c.d_model, c.heads, c.ffn);
}

std::shared_ptr<LayerNorm> layer_norm(const TransformerLayerConfig& c) {
  return std::make_shared<LayerNorm>(Dims{c.d_model}, 1e-5, true, c.dtype);
}

// Padded x [B, T, D]: keys past key_lengths are padding. Packed rows x [N, D]: the sequences
// one after another, query_lengths rows each, reading key_lengths keys each.
F::AttentionMask attention_mask(const Variable& x, const std::vector<std::int64_t>& query_lengths,
                                const std::vector<std::int64_t>& key_lengths, bool causal) {
  if (x.dim() == 2) return {key_lengths, causal, query_lengths};
  return {key_lengths, causal, {}};
}

// The position-wise feed-forward block both layer kinds share: dropout(W2 dropout(relu(W1 x))).
Variable position_wise_feed_forward(Linear& linear1, Linear& linear2, const Variable& x,
                                    const TransformerLayerConfig& c, bool training) {
  const Variable h = F::dropout(relu(linear1.forward(x)), c.dropout, training, c.gen);
  return F::dropout(linear2.forward(h), c.dropout, training, c.gen);
}

}  // namespace

TransformerEncoderLayer::TransformerEncoderLayer(const TransformerLayerConfig& c)
    : Module("TransformerEncoderLayer"), config(c) {
  check_layer_config(c, "TransformerEncoderLayer");
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(
                                               c.d_model, c.heads, c.dropout, c.dtype, c.gen));
  linear1 =
      register_module("linear1", std::make_shared<Linear>(c.d_model, c.ffn, true, c.dtype, c.gen));
  linear2 =
      register_module("linear2", std::make_shared<Linear>(c.ffn, c.d_model, true, c.dtype, c.gen));
  norm1 = register_module("norm1", layer_norm(c));
  norm2 = register_module("norm2", layer_norm(c));
}

Variable TransformerEncoderLayer::feed_forward(const Variable& x) {
  return position_wise_feed_forward(*linear1, *linear2, x, config, is_training());
}

Variable TransformerEncoderLayer::forward(const Variable& x,
                                          const std::vector<std::int64_t>& lengths) {
  const F::AttentionMask mask = attention_mask(x, lengths, lengths, false);
  auto sa = [&](const Variable& h) {
    return F::dropout(self_attn->self_attention(h, mask), config.dropout, is_training(),
                      config.gen);
  };
  if (config.norm_first) {
    const Variable y = x + sa(norm1->forward(x));
    return y + feed_forward(norm2->forward(y));
  }
  const Variable y = norm1->forward(x + sa(x));
  return norm2->forward(y + feed_forward(y));
}

TransformerDecoderLayer::TransformerDecoderLayer(const TransformerLayerConfig& c)
    : Module("TransformerDecoderLayer"), config(c) {
  check_layer_config(c, "TransformerDecoderLayer");
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(
                                               c.d_model, c.heads, c.dropout, c.dtype, c.gen));
  multihead_attn = register_module(
      "multihead_attn",
      std::make_shared<MultiheadAttention>(c.d_model, c.heads, c.dropout, c.dtype, c.gen));
  linear1 =
      register_module("linear1", std::make_shared<Linear>(c.d_model, c.ffn, true, c.dtype, c.gen));
  linear2 =
      register_module("linear2", std::make_shared<Linear>(c.ffn, c.d_model, true, c.dtype, c.gen));
  norm1 = register_module("norm1", layer_norm(c));
  norm2 = register_module("norm2", layer_norm(c));
  norm3 = register_module("norm3", layer_norm(c));
}

Variable TransformerDecoderLayer::feed_forward(const Variable& x) {
  return position_wise_feed_forward(*linear1, *linear2, x, config, is_training());
}

Variable TransformerDecoderLayer::forward(const Variable& x,
                                          const std::vector<std::int64_t>& lengths,
                                          const Variable& memory,
                                          const std::vector<std::int64_t>& memory_lengths) {
  const bool t = is_training();
  auto sa = [&](const Variable& h) {
    return F::dropout(self_attn->self_attention(h, attention_mask(x, lengths, lengths, true)),
                      config.dropout, t, config.gen);
  };
  auto ca = [&](const Variable& h) {
    return F::dropout(multihead_attn->cross_attention(
                          h, memory, attention_mask(x, lengths, memory_lengths, false)),
                      config.dropout, t, config.gen);
  };
  if (config.norm_first) {
    const Variable y = x + sa(norm1->forward(x));
    const Variable z = y + ca(norm2->forward(y));
    return z + feed_forward(norm3->forward(z));
  }
  const Variable y = norm1->forward(x + sa(x));
  const Variable z = norm2->forward(y + ca(y));
  return norm3->forward(z + feed_forward(z));
}

Tensor TransformerDecoderLayer::step(const Tensor& x, KeyValueCache& self_cache,
                                     const KeyValueCache& memory,
                                     const std::vector<std::int64_t>& memory_lengths,
                                     Tensor* cross_weights) {
  NoGradGuard no_grad;
  auto sa = [&](const Tensor& h) { return self_attn->self_attention_step(h, self_cache); };
  auto ca = [&](const Tensor& h) {
    if (cross_weights)
      *cross_weights = multihead_attn->cross_attention_step_weights(h, memory, memory_lengths);
    return multihead_attn->cross_attention_step(h, memory, memory_lengths);
  };
  auto norm = [](LayerNorm& n, const Tensor& h) { return n.forward(Variable(h)).value(); };
  auto ff = [&](const Tensor& h) { return feed_forward(Variable(h)).value(); };
  if (config.norm_first) {
    const Tensor y = x + sa(norm(*norm1, x));
    const Tensor z = y + ca(norm(*norm2, y));
    return z + ff(norm(*norm3, z));
  }
  const Tensor y = norm(*norm1, x + sa(x));
  const Tensor z = norm(*norm2, y + ca(y));
  return norm(*norm3, z + ff(z));
}

// --- the stacks
// -----------------------------------------------------------------------------------

TransformerEncoder::TransformerEncoder(const TransformerLayerConfig& c, std::int64_t num_layers)
    : Module("TransformerEncoder") {
  check(num_layers >= 1, "TransformerEncoder: needs at least one layer, got {}", num_layers);
  layers = register_module("layers", std::make_shared<ModuleList<TransformerEncoderLayer>>());
  for (std::int64_t i = 0; i < num_layers; ++i)
    layers->push_back(std::make_shared<TransformerEncoderLayer>(c));
  norm = register_module("norm", layer_norm(c));
}

Variable TransformerEncoder::forward(const Variable& x, const std::vector<std::int64_t>& lengths) {
  Variable h = x;
  for (auto& layer : *layers) h = layer->forward(h, lengths);
  return norm->forward(h);
}

TransformerDecoder::TransformerDecoder(const TransformerLayerConfig& c, std::int64_t num_layers)
    : Module("TransformerDecoder") {
  check(num_layers >= 1, "TransformerDecoder: needs at least one layer, got {}", num_layers);
  layers = register_module("layers", std::make_shared<ModuleList<TransformerDecoderLayer>>());
  for (std::int64_t i = 0; i < num_layers; ++i)
    layers->push_back(std::make_shared<TransformerDecoderLayer>(c));
  norm = register_module("norm", layer_norm(c));
}

Variable TransformerDecoder::forward(const Variable& x, const std::vector<std::int64_t>& lengths,
                                     const Variable& memory,
                                     const std::vector<std::int64_t>& memory_lengths) {
  Variable h = x;
  for (auto& layer : *layers) h = layer->forward(h, lengths, memory, memory_lengths);
  return norm->forward(h);
}

}  // namespace seqgrad::nn
