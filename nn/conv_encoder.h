// The convolutional encoder of Gehring et al. (2017), "Convolutional Sequence to Sequence
// Learning", section 3, for any model that wants one vector per source token:
//
//   x_0 = fc1(dropout(embed_tokens(src) + embed_positions(0 .. S-1)))      [B, S, W]
//   x_l = sqrt(0.5) * (glu(conv_l(dropout(x_{l-1}))) + x_{l-1}),  l = 1 .. L
//         conv_l: Conv1d(W -> 2W, kernel k odd, padding (k-1)/2), GLU over the channels
//   out = fc2(x_L)                                                          [B, S, out]
//
// Padding: positions at or past a row's length are zeroed in x_0 and after every layer, so that
// a convolution reading past a row's end reads zeros, as it would at the end of that row alone:
// no output of a real position depends on a padded one (and none of them gets a gradient), and a
// row gives the same result whatever it is batched with. The output is zero at the padding too.
//
// Positions matter more here than in a recurrence: each output sees 1 + L(k-1) tokens around
// it, so only a position embedding tells it where in the source it is, and seq2seq's c, a mean
// over positions, would otherwise be a bag of tokens ("ab" = "ba"). They are learned, as in the
// paper (sinusoids, the transformer's choice, would need no table but fix what an offset looks
// like): a table of max_positions rows, and a longer source is one error naming the limit.
//
// Initialisation: fc1, fc2 N(0, sqrt((1-p)/in)) and the convolutions N(0, sqrt(4(1-p)/(k W))),
// biases 0, as in the paper (section 3.5: the activations keep their variance through dropout p
// and the GLU). The embeddings are N(0, 1) (nn::Embedding's, PyTorch's), not the paper's
// N(0, 0.1): in short runs the small ones learned markedly slower (seq2seq, LSTM, reverse, 600
// steps: 1.9% of the dev set right against 9.7%). Parameter names follow fairseq's FConvEncoder:
// embed_tokens, embed_positions, fc1, convolutions.<l>, fc2.
#pragma once

#include <memory>
#include <vector>

#include "nn/layers.h"

namespace seqgrad::nn {

struct ConvEncoderConfig {
  std::int64_t vocab = 0;             // token ids in [0, vocab)
  std::int64_t emb = 64;              // token and position embedding size
  std::int64_t channels = 256;        // W, the width of every convolution
  std::int64_t out = 256;             // size of each output vector
  std::int64_t layers = 4;            // L
  std::int64_t kernel = 3;            // k, odd
  std::int64_t max_positions = 1024;  // longest source
  double dropout = 0.0;               // training only: on the embeddings and each layer's input
  DType dtype = kFloat32;
  Generator* gen = nullptr;  // initial weights and dropout masks
};

class ConvEncoder : public Module {
 public:
  explicit ConvEncoder(const ConvEncoderConfig& config);
  // src int64 [B, S], lengths in [1, S] (empty: all S) -> [B, S, out], zeros at the padding.
  Variable forward(const Tensor& src, const std::vector<std::int64_t>& lengths);
  const ConvEncoderConfig& config() const { return config_; }
  std::string extra_repr() const override;

  std::shared_ptr<Embedding> embed_tokens, embed_positions;
  std::shared_ptr<Linear> fc1, fc2;
  std::shared_ptr<Sequential> convolutions;  // Conv1d layers, run by forward() one by one

 private:
  ConvEncoderConfig config_;
};

// The mean of x [B, S, D] over each row's first lengths[b] positions (empty: all S): [B, D].
// Positions past a length must be zero (as ConvEncoder leaves them): they are summed, not skipped.
Variable mean_of_zero_padded(const Variable& x, const std::vector<std::int64_t>& lengths);

}  // namespace seqgrad::nn
