// The RNN Encoder-Decoder of Cho et al. (2014), appendix A, exactly as the executable
// specification ../shared/reference/cho.py writes it (same equations, parameter names, init):
//
//   encoder   GRU with the reset gate before the recurrent matrix (sec. 2.3) over the embedded
//             source (EOS included); c = tanh(V h_N + b_V)
//   decoder   s_0 = tanh(V' c + b_V'); a GRU whose gates all read c (C c added to U s), with
//             e = embedding of the previous target token
//   output    t = O [s'; e; c] + b_O;  m_i = max(t_2i, t_2i+1) (maxout);  logits = G m + b_G
//
// Both recurrences run on the fused kernel nn::functional::gru_sequence: the encoder with Cho's
// reset-before gates and per-sequence lengths, the decoder (teacher-forced) with PyTorch's
// reset-after gates and C c folded into its per-sequence recurrent bias.
#pragma once

#include <memory>

#include "models/encoder_decoder.h"
#include "nn/all.h"

namespace seqgrad::models {

struct ChoConfig {
  std::int64_t src_vocab = 0, tgt_vocab = 0;
  std::int64_t emb = 64, hidden = 256, maxout = 128;
  // Training only: dropout on both embeddings and on the readout's inputs s and c (not in the
  // paper or cho.py; checkpoints are the same either way). c's mask is drawn once per sequence.
  double dropout = 0.0;
};

// The decoder's parameters: a GRU plus weight_ch, the context's weight in every gate.
class ChoDecoder : public nn::Module {
 public:
  ChoDecoder(std::int64_t emb, std::int64_t hidden, Generator* gen);
  Variable weight_ih, weight_hh, weight_ch, bias_ih, bias_hh;
};

class Cho : public EncoderDecoder {
 public:
  explicit Cho(const ChoConfig& config, Generator* gen = nullptr);

  // src [B, S] ids (EOS included, PAD after) and their lengths -> c [B, H].
  Variable encode(const Tensor& src, const std::vector<std::int64_t>& src_len);
  // Teacher forcing: prev [B, T] decoder inputs (BOS + target) -> logits [T, B, Vt], time-first.
  Variable decode_logits(const Variable& c, const Tensor& prev);
  // Summed negative log-likelihood of batch.gold (PAD ignored); divide by batch.target_tokens
  // for the mean the reference trains on.
  Variable loss(const data::Batch& batch) override;
  DecoderState start_decoding(const Tensor& src, const std::vector<std::int64_t>& src_len) override;
  Tensor decode_step(DecoderState& state, const Tensor& y) override;
  double training_gemm_flops(const data::Batch& batch) const override;

  const ChoConfig& config() const { return config_; }

  std::shared_ptr<nn::Embedding> src_embed, tgt_embed;
  std::shared_ptr<nn::GRUCell> encoder;
  std::shared_ptr<nn::Linear> context, init;
  std::shared_ptr<ChoDecoder> decoder;
  std::shared_ptr<nn::Linear> readout, output;

 private:
  struct DecoderStates {
    Variable s, e;  // [T, B, H] decoder states and [T, B, E] input embeddings
  };
  DecoderStates decode_states(const Variable& c, const Tensor& prev,
                              const std::vector<std::int64_t>& lengths);
  // The readout's per-sequence share O_c c + b_O: c [B, H] -> [B, 2M].
  Variable readout_context(const Variable& c);
  // The output layer for N positions: s [N, H], e [N, E] and each position's row of
  // readout_context [N, 2M] -> logits [N, Vt].
  Variable logits(const Variable& s, const Variable& e, const Variable& per_sequence);
  Variable drop(const Variable& x) const;  // dropout in training mode
  ChoConfig config_;
  Generator* gen_;  // dropout masks
};

}  // namespace seqgrad::models
