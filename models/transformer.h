// The Transformer (Vaswani et al. 2017) exactly as the executable specification
// ../shared/reference/transformer.py writes it, with PyTorch's nn.Transformer inside:
//
//   x = src_embed(src) * sqrt(D) + P[:S],   y = tgt_embed(prev) * sqrt(D) + P[:T]
//       (P sinusoidal; dropout on both in training)
//   h = decoder(y, encoder(x))   post- or pre-LayerNorm layers (norm_first), each stack ending in
//       a LayerNorm; source padding masked in the encoder's and the cross attention, target
//       padding and the future masked in the decoder's self-attention
//   logits = output(h)
//
// Parameter names are nn.Transformer's (encoder.layers.K.self_attn.in_proj_weight, ...) plus
// src_embed, tgt_embed and output, so checkpoints move both ways with the reference. Decoding keeps
// each decoder layer's keys and values (a KV cache): a step costs one position, not the prefix.
#pragma once

#include <memory>
#include <string>

#include "models/encoder_decoder.h"
#include "nn/all.h"

namespace seqgrad::models {

struct TransformerConfig {
  std::int64_t src_vocab = 0, tgt_vocab = 0;
  std::int64_t d_model = 256, heads = 4, layers = 3, ffn = 1024;
  bool norm_first = true;  // pre-LN; false: post-LN as in the paper
  // Training only (the reference's --load/--export run without them).
  double dropout = 0.1;
  double label_smoothing = 0.0;
  std::int64_t max_positions = 1024;  // the longest source or target the position table covers
  // "scaled": embeddings drawn from N(0, 1/d_model), so that embedding * sqrt(d_model) has unit
  // variance like the sinusoidal positions (Vaswani et al.; fairseq). "pytorch": nn.Embedding's
  // N(0, 1), as the reference: the tokens then outweigh the positions ~20:1 at d_model 256, and
  // on g2p the model learns far more slowly (docs/results.md).
  std::string embed_init = "scaled";
};

class Transformer : public EncoderDecoder {
 public:
  explicit Transformer(const TransformerConfig& config, Generator* gen = nullptr);

  // src [B, S] -> the encoder's output ("memory") [B, S, D].
  Variable encode(const Tensor& src, const std::vector<std::int64_t>& src_len);
  // Teacher forcing: the decoder's output [B, T, D] for prev [B, T] (BOS + target, PAD after).
  Variable decode(const Variable& memory, const std::vector<std::int64_t>& src_len,
                  const Tensor& prev, const std::vector<std::int64_t>& tgt_len);
  // Summed negative log-likelihood of batch.gold (PAD ignored); with label smoothing in training.
  Variable loss(const data::Batch& batch) override;
  DecoderState start_decoding(const Tensor& src, const std::vector<std::int64_t>& src_len) override;
  Tensor decode_step(DecoderState& state, const Tensor& y) override;
  // Source + EOS and BOS + target each index the position table.
  LengthLimits length_limits() const override {
    return {config_.max_positions - 1, config_.max_positions - 1};
  }
  // The cross attention of each decoder layer; weights: one head's, or the mean over the heads.
  AttentionLayout attention_layout() const override { return {config_.layers, config_.heads}; }
  Tensor decode_step_attention(DecoderState& state, const Tensor& y, const AttentionChoice& which,
                               Tensor& weights) override;
  double training_gemm_flops(const data::Batch& batch) const override;

  const TransformerConfig& config() const { return config_; }

  std::shared_ptr<nn::Embedding> src_embed, tgt_embed;
  std::shared_ptr<nn::TransformerEncoder> encoder;
  std::shared_ptr<nn::TransformerDecoder> decoder;
  std::shared_ptr<nn::Linear> output;

 private:
  // embed(ids) * sqrt(D) + P[first : first + T] for ids [B, T], with dropout in training.
  Variable embed(nn::Embedding& table, const Tensor& ids, std::int64_t first = 0);
  // decode_step, and decode_step_attention when `which` is given.
  Tensor step(DecoderState& state, const Tensor& y, const AttentionChoice* which, Tensor* weights);
  // The same for the real positions of ids [B, T] only, as packed rows [N, D] (nn/transformer.h).
  Variable embed_rows(nn::Embedding& table, const Tensor& ids,
                      const std::vector<std::int64_t>& lengths);
  TransformerConfig config_;
  Tensor positions_;  // [max_positions, D]
  Generator* gen_;
};

}  // namespace seqgrad::models
