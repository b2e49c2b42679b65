// What every encoder-decoder model offers the trainer and the evaluation commands: a training
// loss and greedy decoding over Batches (models/seq2seq_data.h), plus the helper that lets a
// decoder skip the padding.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "data/seq2seq_batch.h"
#include "nn/module.h"

namespace seqgrad::models {

// The attention over the source a model has, for `translate --show-attention`: Bahdanau's is one
// layer with one head, the Transformer's cross attention one per decoder layer with several heads.
struct AttentionLayout {
  std::int64_t layers = 0, heads = 0;  // 0 x 0: no attention over the source
};
// Which of those weights to read: a layer (0 = the first) and a head, or the mean over the heads.
struct AttentionChoice {
  std::int64_t layer = 0;
  std::optional<std::int64_t> head;  // none: the mean over the heads
};

// The longest source and target, in tokens before EOS / BOS are added, a model can read: a model
// with a position table has a limit, a recurrent one none.
struct LengthLimits {
  std::int64_t source = std::numeric_limits<std::int64_t>::max();
  std::int64_t target = std::numeric_limits<std::int64_t>::max();
};

class EncoderDecoder : public nn::Module {
 public:
  using nn::Module::Module;
  // Summed negative log-likelihood of batch.gold (PAD ignored), teacher forcing; divide by
  // batch.target_tokens for the per-token mean.
  virtual Variable loss(const data::Batch& batch) = 0;
  // Greedy decoding: [B, max_len] target ids, no gradient. Stops when every row has produced
  // EOS; positions after a row's EOS hold arbitrary ids (EOS once all rows have ended).
  Tensor greedy(const Tensor& src, const std::vector<std::int64_t>& src_len, std::int64_t max_len);

  // Step-by-step decoding, what greedy and beam search are built on. The state's tensors have the
  // row (a sequence, or one beam of it) in dim 0, so a search can reorder or copy rows.
  using DecoderState = std::vector<Tensor>;
  virtual DecoderState start_decoding(const Tensor& src,
                                      const std::vector<std::int64_t>& src_len) = 0;
  // Feeds each row's previous token y [N] (BOS first); returns log-probabilities [N, Vt] of the
  // next token and advances the state. No gradient.
  virtual Tensor decode_step(DecoderState& state, const Tensor& y) = 0;

  // The floating-point operations of the matrix products of one training step on `batch`
  // (forward and backward), for the utilisation figures of the benchmarks; 0 when the model does
  // not count them.
  virtual double training_gemm_flops(const data::Batch& /*batch*/) const { return 0; }

  // What the model can read, so that a caller can check its data before training starts (the
  // model itself checks each batch, but only when it meets it).
  virtual LengthLimits length_limits() const { return {}; }

  // The layers and heads of attention over the source; 0 x 0 (the default) for a model without.
  virtual AttentionLayout attention_layout() const { return {}; }
  // decode_step, also setting `weights` [N, S] to the attention weights this step put on the
  // source (the layer and head `which` names): each row sums to 1 over its real tokens and is 0
  // on the padding. These are the weights the step itself used, not a recomputation of them.
  // The default throws: a model overrides it together with attention_layout().
  virtual Tensor decode_step_attention(DecoderState& state, const Tensor& y,
                                       const AttentionChoice& which, Tensor& weights);
};

// Throws unless `which` names a layer and head of `layout` (op names the caller in the message).
void check_attention_choice(const char* op, const AttentionLayout& layout,
                            const AttentionChoice& which);

// Target ids (EOS and what follows dropped) of each source: greedy when beam = 1, else
// beam_search.
std::vector<std::vector<std::int64_t>> decode(EncoderDecoder& model, const Tensor& src,
                                              const std::vector<std::int64_t>& src_len,
                                              std::int64_t max_len, std::int64_t beam = 1,
                                              double alpha = 1.0);

// Beam search over [B] sources: K hypotheses per source, each extended by its K best tokens per
// step; a hypothesis ends at EOS, and the finished one with the best score / length^alpha
// (length normalisation; alpha = 0 ranks by raw log-probability) wins. Returns target ids
// without EOS, one list per source.
std::vector<std::vector<std::int64_t>> beam_search(EncoderDecoder& model, const Tensor& src,
                                                   const std::vector<std::int64_t>& src_len,
                                                   std::int64_t beam, std::int64_t max_len,
                                                   double alpha = 1.0);

// The real (non-PAD) target positions of a batch, in the time-major order of decoder states
// [T, B, ...] seen as [T*B, ...]. A decoder run with `lengths` stops each sequence at its end;
// gathering `index` rows then gives exactly the states the loss reads, so the output layer never
// runs on padding (the reference computes it there and masks the loss: same loss, same gradients).
struct TargetPositions {
  std::vector<std::int64_t> lengths;  // per sequence: target tokens + EOS
  Tensor index;                       // [N] rows of the [T*B] time-major positions
  Tensor sequence;                    // [N] the sequence b of each row
  Tensor gold;                        // [N] the target id at each row
};
TargetPositions target_positions(const Tensor& gold);

// The multiply-adds per token of a recurrent module (nn::Recurrent, nn::GRUCell): the values of
// its weight_ih* and weight_hh* matrices, every layer and direction (one multiply-add each).
double recurrent_macs_per_token(const nn::Module& m);

// Target tokens of each row of `gold` (EOS included, PAD excluded).
std::vector<std::int64_t> target_lengths(const Tensor& gold);

}  // namespace seqgrad::models
