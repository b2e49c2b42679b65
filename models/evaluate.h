// Held-out metrics of an encoder-decoder, as `seqgrad train` and `seqgrad eval` report them:
// the mean teacher-forced negative log-likelihood per target token (EOS included), greedy
// exact-match sequence accuracy, token error rate (edit distance / reference tokens), and corpus
// BLEU and chrF as sacreBLEU computes them (data/text_metrics.h) on the decoded text.
#pragma once

#include <map>
#include <vector>

#include "data/g2p.h"
#include "models/encoder_decoder.h"

namespace seqgrad::models {

struct EvalResult {
  double loss = 0;
  std::int64_t tokens = 0;
  double sequence_accuracy = 0, token_error_rate = 0;
  // 0..100, on the outputs as `seqgrad translate` prints them against the references written the
  // same way (data::detokenize), sacreBLEU's default settings.
  double bleu = 0, chrf = 0;
  // Source length (in tokens) -> {sequences, exactly right}.
  std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> by_length;
};

EvalResult evaluate(EncoderDecoder& model, const std::vector<data::Pair>& pairs,
                    const data::Vocab& src_vocab, const data::Vocab& tgt_vocab,
                    data::Tokens src_tokens = data::Tokens::Char,
                    data::Tokens tgt_tokens = data::Tokens::Char, std::int64_t beam = 1);

// g2p: greedy pronunciations of every word, scored against all its references (models/g2p.h).
data::G2PScore evaluate_g2p(EncoderDecoder& model, const std::vector<data::G2PEntry>& words,
                            const data::Vocab& src_vocab, const data::Vocab& tgt_vocab,
                            std::int64_t beam = 1);

}  // namespace seqgrad::models
