// Corpus-level BLEU and chrF with the numbers sacreBLEU 2.x gives (github.com/mjpost/sacrebleu,
// sacrebleu/metrics/bleu.py and chrf.py), so that a score here can be compared with a published
// one. The defaults are sacreBLEU's: BLEU with the mteval-v13a tokenizer, n-grams up to 4,
// "exp" smoothing, case-sensitive, no effective order; chrF with character n-grams up to 6, no
// word n-grams, beta 2, whitespace removed, no eps smoothing. Texts are detokenized UTF-8 (as a
// user would read them); characters are Unicode code points and whitespace is what Python's
// str.split() splits at, as in sacreBLEU. tools/make_bleu_fixture.py transcribes sacreBLEU's code
// and writes the fixture tests/data/text_metrics_test.cpp checks against.
//
// Corpus-level means the n-gram statistics of all sentences are summed, then one score is
// computed from the sums (not an average of sentence scores).
//
// Every function throws std::invalid_argument, naming itself and the sizes or the index, when
// the hypotheses and references differ in number or a text is not valid UTF-8. An empty
// hypothesis is scored (it has no n-grams); an empty reference, which sacreBLEU refuses, is
// scored as sacreBLEU scores a reference of whitespace only: a reference with no tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace seqgrad::data {

enum class BleuTokenizer {
  Mteval13a,  // sacreBLEU "13a": mteval-v13a's tokenization of punctuation (the default)
  None,       // sacreBLEU "none": the text split at whitespace
};

enum class BleuSmooth {
  None,   // a precision of 0 makes the score 0
  Floor,  // a precision of 0 becomes smooth_value / total (default 0.1)
  AddK,   // smooth_value (default 1) added to the matches and totals of orders 2 and up
  Exp,    // mteval-v13a / NIST: the k-th order with no match gets 1 / (2^k total) (the default)
};

struct BleuOptions {
  BleuTokenizer tokenize = BleuTokenizer::Mteval13a;
  BleuSmooth smooth = BleuSmooth::Exp;
  double smooth_value = -1;  // Floor and AddK; negative: sacreBLEU's default for the method
  int max_ngram_order = 4;
  // Average only over the orders the hypotheses have n-grams of (sacreBLEU's sentence-level
  // setting; off for corpus BLEU).
  bool effective_order = false;
};

struct BleuScore {
  double score = 0;                // 0..100
  std::vector<double> precisions;  // per order 1..max, in percent, after smoothing
  // Per order: hypothesis n-grams that match the reference (clipped), and all hypothesis n-grams
  // (before any add-k smoothing).
  std::vector<std::int64_t> counts, totals;
  double bp = 0;                          // brevity penalty
  std::int64_t sys_len = 0, ref_len = 0;  // tokens: hypotheses, closest references
};

// One reference per hypothesis.
BleuScore corpus_bleu(const std::vector<std::string>& hypotheses,
                      const std::vector<std::string>& references, const BleuOptions& options = {});
// Several references per hypothesis, laid out as sacreBLEU takes them: reference_streams[k][i]
// is the k-th reference of hypothesis i. An empty string is a missing reference.
BleuScore corpus_bleu_multi(const std::vector<std::string>& hypotheses,
                            const std::vector<std::vector<std::string>>& reference_streams,
                            const BleuOptions& options = {});
// The score from summed statistics (sacreBLEU's BLEU.compute_bleu); counts and totals have
// max_ngram_order entries.
BleuScore bleu_from_statistics(const std::vector<std::int64_t>& counts,
                               const std::vector<std::int64_t>& totals, std::int64_t sys_len,
                               std::int64_t ref_len, const BleuOptions& options = {});

// sacreBLEU's 13a tokenization of one segment (trailing whitespace dropped first, as BLEU does).
std::vector<std::string> tokenize_13a(const std::string& text);

struct ChrfOptions {
  int char_order = 6;
  int beta = 2;             // recall weighs beta times as much as precision
  bool whitespace = false;  // keep whitespace in the character n-grams
  // chrF++.py / NLTK style: the F-score of every order averaged, an order without n-grams
  // counting as 1e-16. Off (sacreBLEU's default): the precisions and recalls of the orders that
  // have n-grams on both sides are averaged, then one F-score.
  bool eps_smoothing = false;
};

struct ChrfScore {
  double score = 0;  // 0..100
  // Summed over the corpus, per order 1..char_order: hypothesis n-grams, reference n-grams,
  // matching n-grams (sacreBLEU's layout: [hyp, ref, match] for order 1, then order 2, ...).
  std::vector<std::int64_t> statistics;
};

ChrfScore corpus_chrf(const std::vector<std::string>& hypotheses,
                      const std::vector<std::string>& references, const ChrfOptions& options = {});
// As corpus_bleu_multi; each sentence takes the statistics of its reference with the best
// F-score (the first of equals).
ChrfScore corpus_chrf_multi(const std::vector<std::string>& hypotheses,
                            const std::vector<std::vector<std::string>>& reference_streams,
                            const ChrfOptions& options = {});

}  // namespace seqgrad::data
