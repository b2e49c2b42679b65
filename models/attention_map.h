// Attention maps: greedy decoding that keeps, for every output token, the weights the model's
// attention put on each source token while producing it: what `seqgrad translate
// --show-attention` draws. The models supply the weights of each step through
// EncoderDecoder::decode_step_attention (models/encoder_decoder.h).
#pragma once

#include <vector>

#include "models/encoder_decoder.h"

namespace seqgrad::models {

struct AttentionMap {
  std::vector<std::int64_t> ids;  // the output ids, with the EOS when one was produced
  Tensor weights;                 // float32 [ids.size(), source length]: row t is step t's
};

// Greedy decoding of the [B] sources (the outputs of EncoderDecoder::greedy) with the attention
// weights `which` names at every step: one map per source, cut to the source's real tokens (EOS
// included) and to its output (up to its EOS, or max_len tokens). Throws for a model without
// attention or a layer or head it does not have.
std::vector<AttentionMap> greedy_attention(EncoderDecoder& model, const Tensor& src,
                                           const std::vector<std::int64_t>& src_len,
                                           std::int64_t max_len, const AttentionChoice& which);

}  // namespace seqgrad::models
