// The sequence-to-sequence model of Sutskever, Vinyals and Le (2014), for any registered cell
// (nn/cell.h), as ../shared/reference/seq2seq.py specifies it with PyTorch's nn.LSTM/GRU/RNN:
//
//   a multi-layer encoder reads the embedded source + EOS (optionally reversed, EOS kept last);
//   its final state of every layer, taken at each sequence's own last token, initialises a
//   decoder of the same kind, which reads BOS + target; logits = output(top-layer state).
//
// Parameter names are PyTorch's: src_embed.weight, encoder.weight_ih_l0, ..., output.bias.
#pragma once

#include <memory>
#include <string>

#include "models/encoder_decoder.h"
#include "nn/all.h"

namespace seqgrad::models {

struct Seq2SeqConfig {
  std::int64_t src_vocab = 0, tgt_vocab = 0;
  std::string cell = "lstm";  // any registered cell; "rnn" is the reference's name for rnn_tanh
  std::int64_t emb = 64, hidden = 256, layers = 2;
  bool reverse_source = false;
  double dropout = 0.0;  // between layers, in training (and inside the cnn encoder)
  // "rnn": the encoder is the cell's multi-layer recurrence, as above. "cnn": nn::ConvEncoder
  // (Gehring et al. 2017; conv_layers layers of width hidden, odd kernel) reads the source, and
  // c = the mean of its outputs over the real positions initialises every state of every
  // decoder layer (h, and an LSTM's cell state): tanh(init(c)), one [L * states * H] vector.
  std::string encoder = "rnn";
  std::int64_t conv_layers = 4, kernel = 3, max_positions = 1024;
};

class Seq2Seq : public EncoderDecoder {
 public:
  explicit Seq2Seq(const Seq2SeqConfig& config, Generator* gen = nullptr);
  Variable loss(const data::Batch& batch) override;
  DecoderState start_decoding(const Tensor& src, const std::vector<std::int64_t>& src_len) override;
  Tensor decode_step(DecoderState& state, const Tensor& y) override;
  LengthLimits length_limits() const override;
  double training_gemm_flops(const data::Batch& batch) const override;
  const Seq2SeqConfig& config() const { return config_; }

  std::shared_ptr<nn::Embedding> src_embed, tgt_embed;
  std::shared_ptr<nn::Recurrent> encoder, decoder;  // encoder: null with the cnn encoder
  std::shared_ptr<nn::Linear> output;
  // With encoder = "cnn" (src_embed and encoder null): the encoder, registered as "encoder", and
  // the map from c to the decoder's initial states.
  std::shared_ptr<nn::ConvEncoder> conv_encoder;
  std::shared_ptr<nn::Linear> init;

 private:
  nn::State encode(const Tensor& src, const std::vector<std::int64_t>& src_len);
  Seq2SeqConfig config_;
};

// The source ids with the tokens before each sequence's EOS reversed (EOS and padding stay).
Tensor reverse_before_eos(const Tensor& src, const std::vector<std::int64_t>& src_len);

}  // namespace seqgrad::models
