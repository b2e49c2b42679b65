#include "data/g2p.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <sstream>

#include "data/edit_distance.h"

namespace seqgrad::data {

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

namespace {

// The 39 phones of CMUdict (ARPAbet, no stress).
constexpr std::array<std::string_view, 39> kPhones = {
    "AA", "AE", "AH", "AO", "AW", "AY", "B",  "CH", "D", "DH", "EH", "ER", "EY",
    "F",  "G",  "HH", "IH", "IY", "JH", "K",  "L",  "M", "N",  "NG", "OW", "OY",
    "P",  "R",  "S",  "SH", "T",  "TH", "UH", "UW", "V", "W",  "Y",  "Z",  "ZH"};

bool is_phone(std::string_view p) {
  return std::find(kPhones.begin(), kPhones.end(), p) != kPhones.end();
}

bool is_lower_word(std::string_view w) {
  return !w.empty() && std::all_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

std::string shorten(const std::string& line) {
  return line.size() > 60 ? line.substr(0, 60) + "..." : line;
}

}  // namespace

G2PData load_cmudict(const std::string& path) {
  std::ifstream in(path);
  check(in.good(),
        "{}: cannot open the pronouncing dictionary (install it with `apt-get install "
        "pocketsphinx-en-us`, or run scripts/deps)",
        path);
  std::vector<G2PEntry> entries;             // kept words, in order of first appearance
  std::map<std::string, std::size_t> index;  // word -> position in entries
  std::int64_t lineno = 0;
  for (std::string line; std::getline(in, line);) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream fields(line);
    std::string word;
    if (!(fields >> word) || word.starts_with(";;;")) continue;  // blank line or comment
    // Variant suffix "(n)", n a positive number.
    std::string base = word;
    if (const auto open = word.find('('); open != std::string::npos) {
      const std::string n =
          word.substr(open + 1, word.size() >= open + 2 ? word.size() - open - 2 : 0);
      check(open > 0 && word.back() == ')' && !n.empty() && n.size() <= 4 &&
                std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                n[0] != '0',
            "{}:{}: bad variant suffix in '{}' (expected word(n))", path, lineno, word);
      base = word.substr(0, open);
    }
    std::string pron;
    for (std::string phone; fields >> phone;) {
      if (phone.size() > 1 && phone.back() >= '0' && phone.back() <= '2') phone.pop_back();
      check(is_phone(phone), "{}:{}: '{}' is not a CMUdict phone in '{}'", path, lineno, phone,
            shorten(line));
      if (!pron.empty()) pron += ' ';
      pron += phone;
    }
    check(!pron.empty(), "{}:{}: expected a word and its phones, got '{}'", path, lineno,
          shorten(line));
    if (!is_lower_word(base)) continue;
    const auto [it, inserted] = index.try_emplace(base, entries.size());
    if (inserted) entries.push_back({base, {}});
    auto& prons = entries[it->second].pronunciations;
    // Variants differing only in stress become one pronunciation.
    if (std::find(prons.begin(), prons.end(), pron) == prons.end()) prons.push_back(pron);
  }
  check(!in.bad(), "{}: read error after line {}", path, lineno);
  check(!entries.empty(), "{}: no words matching ^[a-z]+$ in the dictionary", path);
  G2PData data;
  for (auto& e : entries) {
    const std::uint64_t bucket = fnv1a64(e.word) % 100;
    (bucket < 90 ? data.train : bucket < 95 ? data.dev : data.test).push_back(std::move(e));
  }
  return data;
}

std::vector<Pair> g2p_pairs(const std::vector<G2PEntry>& entries) {
  std::vector<Pair> pairs;
  for (const auto& e : entries)
    for (const auto& p : e.pronunciations) pairs.push_back({e.word, p});
  return pairs;
}

G2PScore score_g2p(const std::vector<G2PEntry>& entries, const std::vector<std::string>& outputs) {
  check(entries.size() == outputs.size(), "score_g2p: {} words but {} outputs", entries.size(),
        outputs.size());
  check(!entries.empty(), "score_g2p: no words to score");
  G2PScore s;
  std::int64_t wrong = 0, errors = 0, ref_phones = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    check(!e.pronunciations.empty(), "score_g2p: '{}' has no pronunciation", e.word);
    const auto out = tokenize(outputs[i], Tokens::Space);
    std::int64_t best = -1, best_len = 0;
    for (const auto& p : e.pronunciations) {
      const auto ref = tokenize(p, Tokens::Space);
      const std::int64_t d = edit_distance(out, ref);
      if (best < 0 || d < best) {
        best = d;
        best_len = static_cast<std::int64_t>(ref.size());
      }
    }
    wrong += best > 0;  // distance 0 to some reference: the same phones
    errors += best;
    ref_phones += best_len;
    G2PScore::Counts& c =
        s.by_length[static_cast<std::int64_t>(tokenize(e.word, Tokens::Char).size())];
    c.words += 1;
    c.wrong += best > 0;
    c.phone_errors += best;
    c.phones += best_len;
  }
  s.words = static_cast<std::int64_t>(entries.size());
  s.wer = static_cast<double>(wrong) / static_cast<double>(s.words);
  s.per = ref_phones > 0 ? static_cast<double>(errors) / static_cast<double>(ref_phones) : 0.0;
  return s;
}

}  // namespace seqgrad::data
