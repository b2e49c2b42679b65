// The Transformer's layers (Vaswani et al. 2017) as PyTorch 1.13 builds them:
// nn.MultiheadAttention, nn.TransformerEncoderLayer / DecoderLayer (ReLU, batch first, post- or
// pre-LayerNorm via norm_first) and the stacks of nn.Transformer with their final LayerNorm.
// Parameter names, shapes and initialisation are PyTorch's, so a state dict moves between the two
// unchanged.
//
// Every tensor is batch first: [B, T, D]. Padding is given by per-row lengths (positions at or
// past a row's length are padding), the causal mask by a flag; see nn::functional::AttentionMask.
// The layers and stacks also take packed rows [N, D]: the sequences' real positions one after
// another (sequence b's lengths[b] rows after those of the sequences before it), no padding.
// Everything but the attention works row by row, so on packed rows no work is spent on padding
// (a third of the positions of a batch of random lengths 5-20); models::Transformer trains so.
#pragma once

#include <memory>
#include <vector>

#include "nn/layers.h"

namespace seqgrad::nn {

// P [n, d]: P[p, 2i] = sin(p / 10000^(2i/d)), P[p, 2i+1] = cos(p / 10000^(2i/d)).
Tensor sinusoidal_positions(std::int64_t n, std::int64_t d, DType dtype = kFloat32);

// Keys and values of one attention layer kept across decoding steps, rows in dim 0 (so that beam
// search can reorder them): [N, t, D] each; undefined or [N, 0, D] before the first step.
struct KeyValueCache {
  Tensor k, v;
};

// out_proj(attention(query W_q^T + b_q, memory W_k^T + b_k, memory W_v^T + b_v)), the three input
// projections stacked in in_proj_weight [3D, D] and in_proj_bias [3D] as PyTorch stores them.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(std::int64_t embed_dim, std::int64_t heads, double dropout = 0.0,
                     DType dtype = kFloat32, Generator* gen = nullptr);
  // Self-attention: queries, keys and values all from x [B, T, D] (one GEMM for the three).
  Variable self_attention(const Variable& x, const functional::AttentionMask& mask);
  // Queries from x [B, Tq, D], keys and values from memory [B, Tk, D].
  Variable cross_attention(const Variable& x, const Variable& memory,
                           const functional::AttentionMask& mask);
  // One decoding step of self-attention: x [N, 1, D]; its key and value join `cache`, and the
  // query reads all of them (every earlier position is visible to the newest one).
  Tensor self_attention_step(const Tensor& x, KeyValueCache& cache);
  // The keys and values of `memory` for cross_attention_step, computed once per source.
  KeyValueCache memory_keys_values(const Tensor& memory);
  Tensor cross_attention_step(const Tensor& x, const KeyValueCache& memory,
                              const std::vector<std::int64_t>& memory_lengths);
  // The weights [N, H, 1, S] that cross_attention_step(x, memory, memory_lengths) reads the
  // memory with (the same softmax, nn::functional::attention_weights).
  Tensor cross_attention_step_weights(const Tensor& x, const KeyValueCache& memory,
                                      const std::vector<std::int64_t>& memory_lengths);
  // The attention weights [B, H, Tq, Tk] of queries x against keys from memory (no dropout).
  Tensor weights(const Tensor& x, const Tensor& memory, const functional::AttentionMask& mask);
  std::string extra_repr() const override;

  Variable in_proj_weight, in_proj_bias;
  std::shared_ptr<Linear> out_proj;
  std::int64_t embed_dim, heads;
  double dropout;

 private:
  Variable attend(const Variable& q, const Variable& k, const Variable& v,
                  const functional::AttentionMask& mask);
  Variable project(const Variable& x, std::int64_t part, std::int64_t parts);  // rows of in_proj
  Generator* gen_;
};

struct TransformerLayerConfig {
  std::int64_t d_model = 512, heads = 8, ffn = 2048;
  double dropout = 0.1;
  bool norm_first = false;
  DType dtype = kFloat32;
  Generator* gen = nullptr;
};

// post-LN: x = norm1(x + sa(x));  x = norm2(x + ff(x))
// pre-LN:  x = x + sa(norm1(x));  x = x + ff(norm2(x))
// sa = dropout(self_attn(.)), ff = dropout(linear2(dropout(relu(linear1(.)))))
class TransformerEncoderLayer : public Module {
 public:
  explicit TransformerEncoderLayer(const TransformerLayerConfig& config);
  // x [B, S, D]; lengths: the real positions of each row (padding keys are masked).
  Variable forward(const Variable& x, const std::vector<std::int64_t>& lengths);

  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<LayerNorm> norm1, norm2;
  TransformerLayerConfig config;

 private:
  Variable feed_forward(const Variable& x);
};

// post-LN: x = norm1(x + sa(x));  x = norm2(x + ca(x, memory));  x = norm3(x + ff(x))
// pre-LN:  x = x + sa(norm1(x));  x = x + ca(norm2(x), memory);  x = x + ff(norm3(x))
// sa is causal self-attention, ca reads the encoder's output (memory).
class TransformerDecoderLayer : public Module {
 public:
  explicit TransformerDecoderLayer(const TransformerLayerConfig& config);
  Variable forward(const Variable& x, const std::vector<std::int64_t>& lengths,
                   const Variable& memory, const std::vector<std::int64_t>& memory_lengths);
  // One decoding step, x [N, 1, D], no gradient: what forward computes at the newest position.
  // With cross_weights, also the cross attention's weights of the step [N, H, 1, S].
  Tensor step(const Tensor& x, KeyValueCache& self_cache, const KeyValueCache& memory,
              const std::vector<std::int64_t>& memory_lengths, Tensor* cross_weights = nullptr);

  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;
  TransformerLayerConfig config;

 private:
  Variable feed_forward(const Variable& x);
};

// Numbered submodules ("0", "1", ...), as torch.nn.ModuleList names them.
template <class M>
class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  void push_back(std::shared_ptr<M> m) {
    register_module(std::to_string(items_.size()), m);
    items_.push_back(std::move(m));
  }
  std::size_t size() const { return items_.size(); }
  M& operator[](std::size_t i) { return *items_[i]; }
  auto begin() { return items_.begin(); }
  auto end() { return items_.end(); }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

// nn.TransformerEncoder(layer, num_layers, norm=LayerNorm): the layers, then the final norm.
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(const TransformerLayerConfig& config, std::int64_t num_layers);
  Variable forward(const Variable& x, const std::vector<std::int64_t>& lengths);
  std::shared_ptr<ModuleList<TransformerEncoderLayer>> layers;
  std::shared_ptr<LayerNorm> norm;
};

class TransformerDecoder : public Module {
 public:
  TransformerDecoder(const TransformerLayerConfig& config, std::int64_t num_layers);
  Variable forward(const Variable& x, const std::vector<std::int64_t>& lengths,
                   const Variable& memory, const std::vector<std::int64_t>& memory_lengths);
  std::shared_ptr<ModuleList<TransformerDecoderLayer>> layers;
  std::shared_ptr<LayerNorm> norm;
};

}  // namespace seqgrad::nn
