// Grapheme-to-phoneme data: the CMU Pronouncing Dictionary as Debian's pocketsphinx-en-us ships
// it, split into train/dev/test by a hash of the word, and the WER/PER metrics. docs/data.md
// describes the data, the split and the metrics.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "data/seq2seq_batch.h"

namespace seqgrad::data {

// Where `apt-get install pocketsphinx-en-us` puts the dictionary (scripts/deps installs it).
inline constexpr const char* kCmudictPath =
    "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict";

// 64-bit FNV-1a of the bytes: h = 0xcbf29ce484222325; for each byte b: h = (h ^ b) * 0x100000001b3
// (mod 2^64).
std::uint64_t fnv1a64(std::string_view bytes);

struct G2PEntry {
  std::string word;
  // Distinct pronunciations in file order, each the space-joined phones without stress digits,
  // e.g. "HH AH L OW".
  std::vector<std::string> pronunciations;
};

struct G2PData {
  std::vector<G2PEntry> train, dev, test;  // words in order of first appearance in the file
};

// Parses a CMUdict-format file: `word PH ON ES` per line (any whitespace between fields),
// variants written `word(2) ...`, stress digits 0-2 on the phones stripped, ";;;" lines and
// blank lines skipped. Keeps the words matching ^[a-z]+$ (after removing the variant suffix),
// each with all its pronunciations, in the split given by fnv1a64(word) % 100: 0-89 train, 90-94
// dev, 95-99 test. A malformed line (no phones, a bad variant suffix, a phone outside the 39 of
// CMUdict) is an Error naming path:line; so is a missing file (with how to install it).
G2PData load_cmudict(const std::string& path);

// One pair per pronunciation: source = the word (Tokens::Char), target = the phones
// (Tokens::Space).
std::vector<Pair> g2p_pairs(const std::vector<G2PEntry>& entries);

struct G2PScore {
  double wer = 0, per = 0;
  std::int64_t words = 0;
  struct Counts {
    std::int64_t words = 0, wrong = 0, phone_errors = 0, phones = 0;
  };
  std::map<std::int64_t, Counts> by_length;  // the same counts per word length in letters
};

// outputs[i] is the model's space-joined phones for entries[i].word. A word is correct when its
// output's phones equal those of any of its pronunciations; WER = wrong words / words. PER = the
// sum over words of the edit distance to the closest pronunciation (the first one on a tie) over
// the sum of the lengths in phones of those same pronunciations. by_length splits the counts by
// the word's length.
G2PScore score_g2p(const std::vector<G2PEntry>& entries, const std::vector<std::string>& outputs);

}  // namespace seqgrad::data
