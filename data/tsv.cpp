#include "data/tsv.h"

#include <fstream>

namespace seqgrad::data {

std::vector<Pair> read_tsv(const std::string& path) {
  std::ifstream in(path);
  check(in.good(), "{}: cannot open the file", path);
  std::vector<Pair> pairs;
  std::int64_t lineno = 0;
  for (std::string line; std::getline(in, line);) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
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
