// Beam search against exhaustive search: with a beam as wide as the number of possible
// hypotheses, it must return the sequence with the best length-normalised score, found here by
// enumerating every sequence of up to 3 tokens with the model's own step function.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "models/attention.h"
#include "models/cho.h"
#include "models/seq2seq.h"
#include "models/transformer.h"

using namespace seqgrad;
using namespace seqgrad::models;
using namespace seqgrad::data;

namespace {

// Best (score / (tokens + 1)^alpha) over all sequences that end in EOS within max_len steps, or
// that are still running at max_len (as beam search treats them).
std::vector<std::int64_t> exhaustive(EncoderDecoder& m, const Tensor& src,
                                     const std::vector<std::int64_t>& len, std::int64_t max_len,
                                     double alpha) {
  double best = -INFINITY;
  std::vector<std::int64_t> best_tokens, tokens;
  std::function<void(EncoderDecoder::DecoderState, std::int64_t, double)> walk =
      [&](EncoderDecoder::DecoderState state, std::int64_t y, double score) {
        const Tensor lp = m.decode_step(state, full({1}, static_cast<double>(y), kInt64));
        for (std::int64_t v = 0; v < lp.size(1); ++v) {
          const double s = score + lp.to(kFloat64).data<double>()[v];
          if (v == kEos || static_cast<std::int64_t>(tokens.size()) + 1 == max_len) {
            const auto n = static_cast<double>(tokens.size() + (v == kEos ? 0 : 1) + 1);
            if (s / std::pow(n, alpha) > best) {
              best = s / std::pow(n, alpha);
              best_tokens = tokens;
              if (v != kEos) best_tokens.push_back(v);
            }
            continue;
          }
          tokens.push_back(v);
          auto copy = state;
          walk(copy, v, s);
          tokens.pop_back();
        }
      };
  walk(m.start_decoding(src, len), kBos, 0.0);
  return best_tokens;
}

}  // namespace

TEST_CASE("beam search: a wide enough beam finds the exhaustive optimum, beam 1 is greedy") {
  Generator gen(4);
  Cho cho({7, 6, 4, 5, 3}, &gen);
  Seq2Seq s2s({7, 6, "gru", 4, 5, 2}, &gen);
  Attention att({7, 6, 4, 5, 3}, &gen);  // its decoder state includes the source lengths
  // Its state holds key/value caches that grow by a position per step and are reordered by row.
  Transformer tf({.src_vocab = 7,
                  .tgt_vocab = 6,
                  .d_model = 8,
                  .heads = 2,
                  .layers = 2,
                  .ffn = 16,
                  .dropout = 0.0},
                 &gen);
  const Tensor src = from_vector(std::vector<std::int64_t>{4, 5, kEos}, {1, 3});
  for (EncoderDecoder* m : {static_cast<EncoderDecoder*>(&cho), static_cast<EncoderDecoder*>(&s2s),
                            static_cast<EncoderDecoder*>(&att), static_cast<EncoderDecoder*>(&tf)})
    for (const double alpha : {0.0, 1.0}) {
      CAPTURE(alpha);
      const auto expected = exhaustive(*m, src, {3}, 3, alpha);
      CHECK(beam_search(*m, src, {3}, 250, 3, alpha)[0] == expected);
    }
  // With beam 1 and no EOS chosen, beam search and greedy pick the same tokens.
  const auto greedy = decode(cho, src, {3}, 3, 1);
  const auto one = beam_search(cho, src, {3}, 1, 3, 0.0);
  const std::size_t n = std::min(greedy[0].size(), one[0].size());
  CHECK(std::equal(greedy[0].begin(), greedy[0].begin() + static_cast<std::ptrdiff_t>(n),
                   one[0].begin()));
}
