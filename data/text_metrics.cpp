#include "data/text_metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "data/tsv.h"

namespace seqgrad::data {

namespace {

// Code points: sacreBLEU works on Python str, whose characters are code points, and 13a's
// regexes and chrF's character n-grams must see the same characters.
using Text = std::u32string;
using NgramCounts = std::unordered_map<Text, std::int64_t>;

// Python's str.isspace(), what str.split() and str.rstrip() use: the same set since Unicode 6.3.
bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

bool is_digit(char32_t c) { return c >= U'0' && c <= U'9'; }  // [0-9] in 13a: ASCII only

Text decode(std::string_view text, std::string_view op, std::string_view what, std::size_t index) {
  if (const std::size_t bad = invalid_utf8_at(text); bad != std::string_view::npos)
    throw std::invalid_argument(
        fmt::format("{}: {} {} is not valid UTF-8 (byte 0x{:02x} at offset {})", op, what, index,
                    static_cast<unsigned char>(text[bad]), bad));
  Text out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    const std::size_t n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    char32_t c = n == 1 ? b : n == 2 ? (b & 0x1Fu) : n == 3 ? (b & 0x0Fu) : (b & 0x07u);
    for (std::size_t k = 1; k < n; ++k)
      c = (c << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3Fu);
    out.push_back(c);
    i += n;
  }
  return out;
}

std::string encode(const Text& text) {
  std::string out;
  for (const char32_t c : text) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

std::vector<Text> split(const Text& s) {  // str.split()
  std::vector<Text> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    const std::size_t start = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

void rstrip(Text& s) {
  while (!s.empty() && is_space(s.back())) s.pop_back();
}

void replace_all(Text& s, std::u32string_view from, std::u32string_view to) {  // str.replace
  if (s.find(from) == Text::npos) return;
  Text out;
  std::size_t pos = 0;
  for (std::size_t hit; (hit = s.find(from, pos)) != Text::npos; pos = hit + from.size())
    out.append(s, pos, hit - pos).append(to);
  out.append(s, pos, Text::npos);
  s = std::move(out);
}

// re.sub of a two-character pattern: matches are found left to right and do not overlap, so a
// character consumed by one match cannot start the next.
template <class Match, class Replace>
Text sub_pairs(const Text& s, Match match, Replace replace) {
  Text out;
  out.reserve(s.size() + s.size() / 2);
  std::size_t i = 0;
  while (i < s.size()) {
    if (i + 1 < s.size() && match(s[i], s[i + 1])) {
      replace(out, s[i], s[i + 1]);
      i += 2;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

// sacrebleu/tokenizers/tokenizer_13a.py and tokenizer_re.py, regex for regex.
std::vector<Text> tokenize_13a_text(Text line) {
  replace_all(line, U"<skipped>", U"");
  replace_all(line, U"-\n", U"");
  replace_all(line, U"\n", U" ");
  replace_all(line, U"&quot;", U"\"");
  replace_all(line, U"&amp;", U"&");
  replace_all(line, U"&lt;", U"<");
  replace_all(line, U"&gt;", U">");
  // ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> ' \1 ': space out symbols (but not ' - . , or digits).
  Text spaced = U" ";
  for (const char32_t c : line) {
    const bool symbol = (c >= U'{' && c <= U'~') || (c >= U'[' && c <= U'`') ||
                        (c >= U' ' && c <= U'&') || (c >= U'(' && c <= U'+') ||
                        (c >= U':' && c <= U'@') || c == U'/';
    if (symbol) spaced += U' ';
    spaced += c;
    if (symbol) spaced += U' ';
  }
  spaced += U' ';
  const auto period_or_comma = [](char32_t c) { return c == U'.' || c == U','; };
  // ([^0-9])([\.,]) -> '\1 \2 ': a period or comma not after a digit.
  spaced = sub_pairs(
      spaced, [&](char32_t a, char32_t b) { return !is_digit(a) && period_or_comma(b); },
      [](Text& out, char32_t a, char32_t b) {
        out.append({a, U' ', b, U' '});
      });
  // ([\.,])([^0-9]) -> ' \1 \2': a period or comma not before a digit.
  spaced = sub_pairs(
      spaced, [&](char32_t a, char32_t b) { return period_or_comma(a) && !is_digit(b); },
      [](Text& out, char32_t a, char32_t b) {
        out.append({U' ', a, U' ', b});
      });
  // ([0-9])(-) -> '\1 \2 ': a dash after a digit.
  spaced = sub_pairs(
      spaced, [](char32_t a, char32_t b) { return is_digit(a) && b == U'-'; },
      [](Text& out, char32_t a, char32_t b) {
        out.append({a, U' ', b, U' '});
      });
  return split(spaced);
}

void check_sizes(std::string_view op, const std::vector<std::string>& hypotheses,
                 const std::vector<std::vector<std::string>>& reference_streams) {
  if (reference_streams.empty())
    throw std::invalid_argument(fmt::format("{}: no reference streams", op));
  for (std::size_t k = 0; k < reference_streams.size(); ++k)
    if (reference_streams[k].size() != hypotheses.size())
      throw std::invalid_argument(
          reference_streams.size() == 1
              ? fmt::format("{}: {} hypotheses but {} references", op, hypotheses.size(),
                            reference_streams[k].size())
              : fmt::format("{}: {} hypotheses but reference stream {} has {} references", op,
                            hypotheses.size(), k, reference_streams[k].size()));
}

// The references of sentence i, decoded. sacreBLEU drops empty strings (a missing reference
// among several) and refuses a sentence left with none; it accepts a reference of whitespace
// only, which has no tokens and no characters, so that is what a lone empty one is scored as.
std::vector<Text> references_of(std::string_view op,
                                const std::vector<std::vector<std::string>>& reference_streams,
                                std::size_t i) {
  std::vector<Text> refs;
  for (const auto& stream : reference_streams)
    if (!stream[i].empty()) refs.push_back(decode(stream[i], op, "reference", i));
  if (refs.empty()) refs.emplace_back();
  return refs;
}

// Tokens become ids (one char32_t each) so that an n-gram is a short string, hashed as one.
class TokenIds {
 public:
  Text ids(const std::vector<Text>& tokens) {
    Text out;
    for (const Text& t : tokens)
      out += ids_.try_emplace(t, static_cast<char32_t>(ids_.size())).first->second;
    return out;
  }

 private:
  std::unordered_map<Text, char32_t> ids_;
};

NgramCounts word_ngrams(const Text& ids, int max_order) {
  NgramCounts counts;
  for (std::size_t n = 1; n <= static_cast<std::size_t>(max_order); ++n)
    for (std::size_t i = 0; i + n <= ids.size(); ++i) ++counts[ids.substr(i, n)];
  return counts;
}

std::vector<Text> bleu_tokens(Text text, const BleuOptions& o) {
  rstrip(text);
  return o.tokenize == BleuTokenizer::Mteval13a ? tokenize_13a_text(std::move(text)) : split(text);
}

double my_log(double x) { return x == 0.0 ? -9999999999.0 : std::log(x); }  // sacrebleu/utils.py

std::vector<NgramCounts> char_ngrams(Text line, int order, bool whitespace) {
  if (!whitespace) std::erase_if(line, is_space);
  std::vector<NgramCounts> counts(static_cast<std::size_t>(order));
  for (std::size_t n = 1; n <= counts.size(); ++n)
    for (std::size_t i = 0; i + n <= line.size(); ++i) ++counts[n - 1][line.substr(i, n)];
  return counts;
}

// CHRF._compute_f_score, operation for operation (the sums in sacreBLEU's order).
double chrf_f_score(const std::vector<std::int64_t>& stats, const ChrfOptions& o) {
  const double eps = 1e-16;
  const int factor = o.beta * o.beta;
  double score = 0, avg_prec = 0, avg_rec = 0;
  int effective_order = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(o.char_order); ++i) {
    const std::int64_t n_hyp = stats[3 * i], n_ref = stats[3 * i + 1], n_match = stats[3 * i + 2];
    const double prec = n_hyp > 0 ? static_cast<double>(n_match) / static_cast<double>(n_hyp) : eps;
    const double rec = n_ref > 0 ? static_cast<double>(n_match) / static_cast<double>(n_ref) : eps;
    const double denom = factor * prec + rec;
    score += denom > 0 ? (1 + factor) * prec * rec / denom : eps;
    if (n_hyp > 0 && n_ref > 0) {
      avg_prec += prec;
      avg_rec += rec;
      ++effective_order;
    }
  }
  if (o.eps_smoothing) return 100 * score / o.char_order;
  if (effective_order == 0) return 0.0;
  avg_prec /= effective_order;
  avg_rec /= effective_order;
  if (avg_prec + avg_rec == 0) return 0.0;
  score = (1 + factor) * avg_prec * avg_rec;
  score /= factor * avg_prec + avg_rec;
  return 100 * score;
}

}  // namespace

std::vector<std::string> tokenize_13a(const std::string& text) {
  Text line = decode(text, "tokenize_13a", "text", 0);
  rstrip(line);
  std::vector<std::string> out;
  for (const Text& t : tokenize_13a_text(std::move(line))) out.push_back(encode(t));
  return out;
}

BleuScore bleu_from_statistics(const std::vector<std::int64_t>& counts,
                               const std::vector<std::int64_t>& totals, std::int64_t sys_len,
                               std::int64_t ref_len, const BleuOptions& o) {
  const auto order = static_cast<std::size_t>(o.max_ngram_order);
  if (o.max_ngram_order < 1 || counts.size() != order || totals.size() != order)
    throw std::invalid_argument(fmt::format(
        "bleu_from_statistics: {} counts and {} totals for max_ngram_order {} (need one per "
        "order, at least 1)",
        counts.size(), totals.size(), o.max_ngram_order));
  BleuScore r;
  r.counts = counts;
  r.totals = totals;
  r.sys_len = sys_len;
  r.ref_len = ref_len;
  if (sys_len < ref_len)
    r.bp = sys_len > 0 ? std::exp(1 - static_cast<double>(ref_len) / static_cast<double>(sys_len))
                       : 0.0;
  else
    r.bp = 1.0;
  r.precisions.assign(order, 0.0);
  // No match at any order: 0, whatever the smoothing (sacreBLEU issue #141).
  if (std::all_of(counts.begin(), counts.end(), [](std::int64_t c) { return c == 0; })) return r;
  const double smooth_value = o.smooth_value >= 0             ? o.smooth_value
                              : o.smooth == BleuSmooth::Floor ? 0.1
                                                              : 1.0;
  std::vector<double> correct(counts.begin(), counts.end()), total(totals.begin(), totals.end());
  double smooth_mteval = 1;
  std::size_t eff_order = order;
  for (std::size_t n = 1; n <= order; ++n) {
    if (o.smooth == BleuSmooth::AddK && n > 1) {
      correct[n - 1] += smooth_value;
      total[n - 1] += smooth_value;
    }
    if (total[n - 1] == 0) break;
    if (o.effective_order) eff_order = n;
    if (correct[n - 1] == 0) {
      if (o.smooth == BleuSmooth::Exp) {
        smooth_mteval *= 2;
        r.precisions[n - 1] = 100. / (smooth_mteval * total[n - 1]);
      } else if (o.smooth == BleuSmooth::Floor) {
        r.precisions[n - 1] = 100. * smooth_value / total[n - 1];
      }
    } else {
      r.precisions[n - 1] = 100. * correct[n - 1] / total[n - 1];
    }
  }
  // Summed left to right, as Python's sum() did before 3.12 (3.12 compensates, which can move
  // the last bit).
  double log_sum = 0;
  for (std::size_t n = 0; n < eff_order; ++n) log_sum += my_log(r.precisions[n]);
  r.score = r.bp * std::exp(log_sum / static_cast<double>(eff_order));
  return r;
}

BleuScore corpus_bleu_multi(const std::vector<std::string>& hypotheses,
                            const std::vector<std::vector<std::string>>& reference_streams,
                            const BleuOptions& o) {
  constexpr std::string_view op = "corpus_bleu";
  check_sizes(op, hypotheses, reference_streams);
  if (o.max_ngram_order < 1)
    throw std::invalid_argument(
        fmt::format("{}: max_ngram_order {} must be at least 1", op, o.max_ngram_order));
  const auto order = static_cast<std::size_t>(o.max_ngram_order);
  std::vector<std::int64_t> counts(order, 0), totals(order, 0);
  std::int64_t sys_len = 0, ref_len = 0;
  TokenIds token_ids;
  for (std::size_t i = 0; i < hypotheses.size(); ++i) {
    // The reference n-grams: each n-gram's largest count in any one reference.
    NgramCounts ref_ngrams;
    std::vector<std::int64_t> ref_lens;
    for (Text& ref : references_of(op, reference_streams, i)) {
      const Text ids = token_ids.ids(bleu_tokens(std::move(ref), o));
      ref_lens.push_back(static_cast<std::int64_t>(ids.size()));
      for (const auto& [ngram, count] : word_ngrams(ids, o.max_ngram_order)) {
        std::int64_t& c = ref_ngrams[ngram];
        c = std::max(c, count);
      }
    }
    const Text hyp = token_ids.ids(bleu_tokens(decode(hypotheses[i], op, "hypothesis", i), o));
    const auto hyp_len = static_cast<std::int64_t>(hyp.size());
    // The closest reference length; of two as close, the shorter.
    std::int64_t closest_diff = -1, closest_len = -1;
    for (const std::int64_t len : ref_lens) {
      const std::int64_t diff = std::abs(hyp_len - len);
      if (closest_diff == -1 || diff < closest_diff) {
        closest_diff = diff;
        closest_len = len;
      } else if (diff == closest_diff && len < closest_len) {
        closest_len = len;
      }
    }
    sys_len += hyp_len;
    ref_len += closest_len;
    for (const auto& [ngram, count] : word_ngrams(hyp, o.max_ngram_order)) {
      totals[ngram.size() - 1] += count;
      if (const auto it = ref_ngrams.find(ngram); it != ref_ngrams.end())
        counts[ngram.size() - 1] += std::min(count, it->second);
    }
  }
  return bleu_from_statistics(counts, totals, sys_len, ref_len, o);
}

BleuScore corpus_bleu(const std::vector<std::string>& hypotheses,
                      const std::vector<std::string>& references, const BleuOptions& o) {
  return corpus_bleu_multi(hypotheses, {references}, o);
}

ChrfScore corpus_chrf_multi(const std::vector<std::string>& hypotheses,
                            const std::vector<std::vector<std::string>>& reference_streams,
                            const ChrfOptions& o) {
  constexpr std::string_view op = "corpus_chrf";
  check_sizes(op, hypotheses, reference_streams);
  if (o.char_order < 1)
    throw std::invalid_argument(
        fmt::format("{}: char_order {} must be at least 1", op, o.char_order));
  const auto order = static_cast<std::size_t>(o.char_order);
  ChrfScore r;
  r.statistics.assign(3 * order, 0);
  for (std::size_t i = 0; i < hypotheses.size(); ++i) {
    const auto hyp_ngrams =
        char_ngrams(decode(hypotheses[i], op, "hypothesis", i), o.char_order, o.whitespace);
    std::vector<std::int64_t> best;
    double best_f = -1;
    for (Text& ref : references_of(op, reference_streams, i)) {
      const auto ref_ngrams = char_ngrams(std::move(ref), o.char_order, o.whitespace);
      std::vector<std::int64_t> stats(3 * order, 0);
      for (std::size_t n = 0; n < order; ++n) {
        std::int64_t hyp_count = 0, ref_count = 0, matches = 0;
        for (const auto& [ngram, count] : hyp_ngrams[n]) {
          hyp_count += count;
          if (const auto it = ref_ngrams[n].find(ngram); it != ref_ngrams[n].end())
            matches += std::min(count, it->second);
        }
        for (const auto& entry : ref_ngrams[n]) ref_count += entry.second;
        // sacreBLEU counts no hypothesis n-grams of an order the reference has none of.
        stats[3 * n] = ref_ngrams[n].empty() ? 0 : hyp_count;
        stats[3 * n + 1] = ref_count;
        stats[3 * n + 2] = matches;
      }
      if (const double f = chrf_f_score(stats, o); f > best_f) {
        best_f = f;
        best = std::move(stats);
      }
    }
    for (std::size_t k = 0; k < best.size(); ++k) r.statistics[k] += best[k];
  }
  r.score = chrf_f_score(r.statistics, o);
  return r;
}

ChrfScore corpus_chrf(const std::vector<std::string>& hypotheses,
                      const std::vector<std::string>& references, const ChrfOptions& o) {
  return corpus_chrf_multi(hypotheses, {references}, o);
}

}  // namespace seqgrad::data
