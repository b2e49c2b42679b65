#include "data/tsv.h"

#include <fstream>

namespace seqgrad::data {

std::size_t invalid_utf8_at(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char b = byte(i);
    // The sequence length from the lead byte, and the range of its second byte (which excludes
    // overlong forms, surrogates and code points above U+10FFFF: RFC 3629, table 3-7 of Unicode).
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b < 0x80)
      n = 1;
    else if (b >= 0xC2 && b <= 0xDF)
      n = 2;
    else if (b == 0xE0)
      n = 3, lo = 0xA0;
    else if (b >= 0xE1 && b <= 0xEC)
      n = 3;
    else if (b == 0xED)
      n = 3, hi = 0x9F;
    else if (b >= 0xEE && b <= 0xEF)
      n = 3;
    else if (b == 0xF0)
      n = 4, lo = 0x90;
    else if (b >= 0xF1 && b <= 0xF3)
      n = 4;
    else if (b == 0xF4)
      n = 4, hi = 0x8F;
    else
      return i;
    if (i + n > text.size()) return i;
    for (std::size_t k = 1; k < n; ++k) {
      const unsigned char c = byte(i + k);
      if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return i;
    }
    i += n;
  }
  return std::string_view::npos;
}

std::vector<Pair> read_tsv(const std::string& path) {
  std::ifstream in(path);
  check(in.good(), "{}: cannot open the file", path);
  std::vector<Pair> pairs;
  std::int64_t lineno = 0;
  for (std::string line; std::getline(in, line);) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    // Tokens end up in checkpoints as JSON, which must be UTF-8: refuse the file now rather than
    // train and fail at the first checkpoint.
    if (const std::size_t bad = invalid_utf8_at(line); bad != std::string_view::npos)
      fail(
          "{}:{}: not valid UTF-8 (byte 0x{:02x} at column {}); convert the file to UTF-8, "
          "e.g. with iconv",
          path, lineno, static_cast<unsigned char>(line[bad]), bad + 1);
    const auto tab = line.find('\t');
    check(tab != std::string::npos && line.find('\t', tab + 1) == std::string::npos,
          "{}:{}: expected source<TAB>target, got '{}'", path, lineno,
          line.size() > 60 ? line.substr(0, 60) + "..." : line);
    pairs.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  check(!in.bad(), "{}: read error after line {}", path, lineno);
  check(!pairs.empty(), "{}: no source<TAB>target pairs in the file", path);
  return pairs;
}

}  // namespace seqgrad::data
