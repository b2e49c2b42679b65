// A TSV file of source<TAB>target pairs as `seqgrad train --train` reads it, then tokenised both
// ways (UTF-8 characters and whitespace tokens) and turned into vocabularies and a batch.
#include "data/tsv.h"
#include "tests/fuzz/fuzz_input.h"

using namespace seqgrad::data;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = seqgrad::fuzz::input_file(data, size, ".tsv");
  try {
    const std::vector<Pair> pairs = read_tsv(path);
    for (const Tokens t : {Tokens::Char, Tokens::Space}) {
      std::vector<std::string> sources, targets;
      for (const Pair& p : pairs) {
        sources.push_back(p.source);
        targets.push_back(p.target);
      }
      const Vocab sv = Vocab::build(sources, t), tv = Vocab::build(targets, t);
      const std::vector<Pair> first(pairs.begin(),
                                    pairs.begin() + std::min<std::size_t>(pairs.size(), 8));
      (void)make_batch(first, sv, tv, t, t);
    }
  } catch (const seqgrad::Error&) {
  }
  return 0;
}
