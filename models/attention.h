// The attention encoder-decoder of Bahdanau, Cho and Bengio (2015): where `cho` squeezes the
// source into one vector c, this model keeps one annotation per source token and lets every
// decoder step look back at all of them.
//
//   encoder   bidirectional GRU over the embedded source: annotations h_j = [h_j^fwd; h_j^bwd]
//   start     s_0 = tanh(W_init h_1^bwd + b)  (the backward state that has read the whole source)
//   attention e_tj = v^T tanh(W_q s_{t-1} + U_k h_j);  alpha_t = softmax_j(e_t) over real tokens;
//             c_t = sum_j alpha_tj h_j
//   decoder   s_t = GRU([e(y_{t-1}); c_t], s_{t-1})
//   output    logits = W_o [s_t; c_t; e(y_{t-1})] + b_o
//
// U_k h_j is computed once per source. Training runs the whole decoder as one fused node
// (nn::functional::attention_gru_decoder); decoding costs one attention read (one fused node,
// nn::functional::additive_attention) and one GRU step per position.
#pragma once

#include <memory>
#include <string>

#include "models/encoder_decoder.h"
#include "nn/all.h"

namespace seqgrad::models {

struct AttentionConfig {
  std::int64_t src_vocab = 0, tgt_vocab = 0;
  std::int64_t emb = 64, hidden = 256, attention = 0;  // attention 0: = hidden
  double dropout = 0.0;  // training only: on the source embeddings and the output layer's input
  // "cnn": nn::ConvEncoder (width hidden, outputs 2H) replaces the embedding and the
  // bidirectional GRU: its outputs are the annotations, s_0 = tanh(W_init mean_j(h_j) + b) over
  // the real positions j.
  std::string encoder = "rnn";
  std::int64_t conv_layers = 4, kernel = 3, max_positions = 1024;
};

class Attention : public EncoderDecoder {
 public:
  explicit Attention(const AttentionConfig& config, Generator* gen = nullptr);
  Variable loss(const data::Batch& batch) override;
  DecoderState start_decoding(const Tensor& src, const std::vector<std::int64_t>& src_len) override;
  Tensor decode_step(DecoderState& state, const Tensor& y) override;
  LengthLimits length_limits() const override;
  double training_gemm_flops(const data::Batch& batch) const override;
  AttentionLayout attention_layout() const override { return {1, 1}; }
  Tensor decode_step_attention(DecoderState& state, const Tensor& y, const AttentionChoice& which,
                               Tensor& weights) override;
  const AttentionConfig& config() const { return config_; }

  std::shared_ptr<nn::Embedding> src_embed, tgt_embed;
  std::shared_ptr<nn::Recurrent> encoder;         // null with the cnn encoder
  std::shared_ptr<nn::ConvEncoder> conv_encoder;  // the cnn encoder (as "encoder"), or null
  std::shared_ptr<nn::Linear> init, attn_query, attn_key, attn_v;
  std::shared_ptr<nn::GRUCell> decoder;
  std::shared_ptr<nn::Linear> output;

 private:
  struct Memory {
    Variable annotations;               // [B, S, 2H]
    Variable keys;                      // [B, S, A] = U_k h_j
    std::vector<std::int64_t> lengths;  // real source tokens per row
    Variable s0;                        // [B, H]
  };
  Memory encode(const Tensor& src, const std::vector<std::int64_t>& src_len);
  // The attention read c_t for the decoder state s = s_{t-1} [B, H]: [B, 2H].
  Variable attend(const Memory& m, const Variable& s);
  // logits = W_o x + b_o for rows x = [s; c; e] [N, 3H + E].
  Variable readout(const Variable& x);
  AttentionConfig config_;
  Generator* gen_;  // dropout masks
};

}  // namespace seqgrad::models
