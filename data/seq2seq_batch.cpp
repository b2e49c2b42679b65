#include "data/seq2seq_batch.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace seqgrad::data {

namespace {
const std::vector<std::string> kSpecials = {"<pad>", "<s>", "</s>", "<unk>"};
}

std::vector<std::string> tokenize(const std::string& text, Tokens tokens) {
  std::vector<std::string> out;
  if (tokens == Tokens::Char) {  // a character is a UTF-8 lead byte and its continuation bytes
    for (const char ch : text) {
      if ((static_cast<unsigned char>(ch) & 0xC0) == 0x80 && !out.empty())
        out.back() += ch;
      else
        out.emplace_back(1, ch);
    }
  } else {
    std::istringstream in(text);
    for (std::string t; in >> t;) out.push_back(t);
  }
  return out;
}

std::string detokenize(const std::vector<std::string>& pieces, Tokens tokens) {
  std::string text;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    if (i > 0 && tokens == Tokens::Space) text += ' ';
    text += pieces[i];
  }
  return text;
}

Vocab Vocab::build(const std::vector<std::string>& texts, Tokens tokens) {
  std::set<std::string> distinct;
  for (const std::string& t : texts)
    for (std::string& tok : tokenize(t, tokens)) distinct.insert(std::move(tok));
  std::vector<std::string> all = kSpecials;
  for (const std::string& tok : distinct)
    if (std::find(kSpecials.begin(), kSpecials.end(), tok) == kSpecials.end()) all.push_back(tok);
  return Vocab(std::move(all));
}

Vocab::Vocab(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  check(tokens_.size() >= kSpecials.size() &&
            std::equal(kSpecials.begin(), kSpecials.end(), tokens_.begin()),
        "Vocab: the first tokens must be <pad>, <s>, </s>, <unk>");
  for (std::size_t i = 0; i < tokens_.size(); ++i)
    check(ids_.emplace(tokens_[i], static_cast<std::int64_t>(i)).second,
          "Vocab: token '{}' appears twice", tokens_[i]);
}

std::int64_t Vocab::id(const std::string& token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? kUnk : it->second;
}

const std::string& Vocab::token(std::int64_t id) const {
  check(id >= 0 && id < size(), "Vocab: id {} is outside [0, {})", id, size());
  return tokens_[static_cast<std::size_t>(id)];
}

Batch make_batch(const std::vector<Pair>& pairs, const Vocab& sv, const Vocab& tv,
                 Tokens src_tokens, Tokens tgt_tokens) {
  check(!pairs.empty(), "make_batch: no pairs");
  std::vector<std::vector<std::int64_t>> src, tgt;
  std::size_t S = 0, T = 0;
  for (const Pair& p : pairs) {
    auto& s = src.emplace_back();
    for (const std::string& tok : tokenize(p.source, src_tokens)) s.push_back(sv.id(tok));
    s.push_back(kEos);
    auto& t = tgt.emplace_back();
    for (const std::string& tok : tokenize(p.target, tgt_tokens)) t.push_back(tv.id(tok));
    S = std::max(S, s.size());
    T = std::max(T, t.size() + 1);
  }
  const auto B = static_cast<std::int64_t>(pairs.size());
  std::vector<std::int64_t> src_ids(B * S, kPad), prev(B * T, kPad), gold(B * T, kPad);
  Batch batch;
  for (std::size_t b = 0; b < pairs.size(); ++b) {
    std::copy(src[b].begin(), src[b].end(), src_ids.begin() + static_cast<std::ptrdiff_t>(b * S));
    batch.src_len.push_back(static_cast<std::int64_t>(src[b].size()));
    prev[b * T] = kBos;
    for (std::size_t i = 0; i < tgt[b].size(); ++i) {
      prev[b * T + i + 1] = tgt[b][i];
      gold[b * T + i] = tgt[b][i];
    }
    gold[b * T + tgt[b].size()] = kEos;
    batch.target_tokens += static_cast<std::int64_t>(tgt[b].size()) + 1;
  }
  const auto s = static_cast<std::int64_t>(S), t = static_cast<std::int64_t>(T);
  batch.src = from_vector(src_ids, {B, s});
  batch.prev = from_vector(prev, {B, t});
  batch.gold = from_vector(gold, {B, t});
  return batch;
}

}  // namespace seqgrad::data
