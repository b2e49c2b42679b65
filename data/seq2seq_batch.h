// From text pairs to id batches for the encoder-decoder models, as ../shared/reference/cho.py
// does it: vocabularies whose ids 0..3 are <pad>, <s>, </s>, <unk>; the source gets EOS appended;
// the decoder reads BOS + target and predicts target + EOS; PAD fills the rest.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/all.h"

namespace seqgrad::data {

inline constexpr std::int64_t kPad = 0, kBos = 1, kEos = 2, kUnk = 3;

enum class Tokens { Char, Space };  // one token per character, or whitespace-separated tokens

std::vector<std::string> tokenize(const std::string& text, Tokens tokens);
// Tokens back to text, as `seqgrad translate` prints them: characters joined as they are, space
// tokens with one space between them.
std::string detokenize(const std::vector<std::string>& pieces, Tokens tokens);

class Vocab {
 public:
  Vocab() = default;
  // The specials, then every distinct token of `texts` in sorted (byte) order.
  static Vocab build(const std::vector<std::string>& texts, Tokens tokens);
  // From a stored token list (a checkpoint's); checks the specials are where they must be.
  explicit Vocab(std::vector<std::string> tokens);

  std::int64_t size() const { return static_cast<std::int64_t>(tokens_.size()); }
  std::int64_t id(const std::string& token) const;  // kUnk when unknown
  const std::string& token(std::int64_t id) const;
  const std::vector<std::string>& tokens() const { return tokens_; }

 private:
  std::vector<std::string> tokens_;
  std::map<std::string, std::int64_t> ids_;
};

struct Pair {
  std::string source, target;
};

// Longer source first, then longer target (in characters): the order in which a batch is dealt to
// the shards of data-parallel training, so that each gets the same mix of lengths.
inline bool longer_first(const Pair& a, const Pair& b) {
  return a.source.size() != b.source.size() ? a.source.size() > b.source.size()
                                            : a.target.size() > b.target.size();
}

// Batch-major int64 id tensors, as the reference builds them.
struct Batch {
  Tensor src;                         // [B, S]: source ids + EOS, then PAD
  std::vector<std::int64_t> src_len;  // tokens before the padding (EOS included)
  Tensor prev;                        // [B, T]: BOS + target ids, then PAD
  Tensor gold;                        // [B, T]: target ids + EOS, then PAD
  std::int64_t target_tokens = 0;     // non-PAD entries of gold
};

Batch make_batch(const std::vector<Pair>& pairs, const Vocab& src_vocab, const Vocab& tgt_vocab,
                 Tokens src_tokens = Tokens::Char, Tokens tgt_tokens = Tokens::Char);

}  // namespace seqgrad::data
