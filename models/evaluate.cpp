#include "models/evaluate.h"

#include <algorithm>

#include "data/edit_distance.h"
#include "data/text_metrics.h"
#include "models/seq2seq_io.h"

namespace seqgrad::models {

EvalResult evaluate(EncoderDecoder& model, const std::vector<data::Pair>& pairs,
                    const data::Vocab& sv, const data::Vocab& tv, data::Tokens src_tokens,
                    data::Tokens tgt_tokens, std::int64_t beam) {
  NoGradGuard no_grad;
  // One scope for all chunks: the weights are packed once for the whole set, not once per chunk
  // (decoding's own scopes nest in this one and share its packed copies).
  const GemmPackingScope packing;
  const bool was_training = model.is_training();
  model.eval();  // no dropout while measuring
  EvalResult r;
  double nll = 0;
  std::int64_t correct = 0, errors = 0, reference_tokens = 0;
  std::vector<std::string> hypothesis_texts, reference_texts;  // for BLEU and chrF
  constexpr std::size_t kChunk = 250;
  for (std::size_t start = 0; start < pairs.size(); start += kChunk) {
    const std::vector<data::Pair> part(
        pairs.begin() + static_cast<std::ptrdiff_t>(start),
        pairs.begin() + static_cast<std::ptrdiff_t>(std::min(pairs.size(), start + kChunk)));
    const data::Batch b = data::make_batch(part, sv, tv, src_tokens, tgt_tokens);
    nll += model.loss(b).item();
    r.tokens += b.target_tokens;
    // Greedy decoding gets a little room past the longest reference: a model that has not
    // learnt to stop is then wrong, not cut to the right length.
    const auto outputs = decode(model, b.src, b.src_len, b.gold.size(1) + 5, beam);
    for (std::size_t i = 0; i < part.size(); ++i) {
      std::vector<std::string> hyp;
      for (const std::int64_t id : outputs[i]) hyp.push_back(tv.token(id));
      std::vector<std::string> ref = data::tokenize(part[i].target, tgt_tokens);
      // The text metrics see the real reference: a token the model cannot write costs it there.
      hypothesis_texts.push_back(data::detokenize(hyp, tgt_tokens));
      reference_texts.push_back(data::detokenize(ref, tgt_tokens));
      for (auto& tok : ref) tok = tv.token(tv.id(tok));  // unknown tokens compare as <unk>
      const bool right = hyp == ref;
      correct += right;
      errors += data::edit_distance(hyp, ref);
      reference_tokens += static_cast<std::int64_t>(ref.size());
      auto& bucket =
          r.by_length[static_cast<std::int64_t>(data::tokenize(part[i].source, src_tokens).size())];
      ++bucket.first;
      bucket.second += right;
    }
  }
  model.train(was_training);
  r.loss = nll / static_cast<double>(std::max<std::int64_t>(r.tokens, 1));
  r.sequence_accuracy = static_cast<double>(correct) / static_cast<double>(pairs.size());
  r.token_error_rate = static_cast<double>(errors) /
                       static_cast<double>(std::max<std::int64_t>(reference_tokens, 1));
  r.bleu = data::corpus_bleu(hypothesis_texts, reference_texts).score;
  r.chrf = data::corpus_chrf(hypothesis_texts, reference_texts).score;
  return r;
}

data::G2PScore evaluate_g2p(EncoderDecoder& model, const std::vector<data::G2PEntry>& words,
                            const data::Vocab& sv, const data::Vocab& tv, std::int64_t beam) {
  NoGradGuard no_grad;
  const GemmPackingScope packing;  // as in evaluate: the weights packed once for all chunks
  const bool was_training = model.is_training();
  model.eval();
  std::vector<std::string> outputs;
  constexpr std::size_t kChunk = 250;
  for (std::size_t start = 0; start < words.size(); start += kChunk) {
    std::vector<std::string> sources;
    for (std::size_t i = start; i < std::min(words.size(), start + kChunk); ++i)
      sources.push_back(words[i].word);
    for (auto& out :
         greedy_decode(model, sources, sv, tv, 40, data::Tokens::Char, data::Tokens::Space, beam))
      outputs.push_back(std::move(out));
  }
  model.train(was_training);
  return data::score_g2p(words, outputs);
}

}  // namespace seqgrad::models
