// A CMU Pronouncing Dictionary file as `seqgrad train --task g2p` reads it: word filter, variants
// "word(2)", phones without stress, the FNV-1a split, then the g2p training pairs.
#include "data/g2p.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = seqgrad::fuzz::input_file(data, size, ".dict");
  try {
    const seqgrad::data::G2PData g = seqgrad::data::load_cmudict(path);
    (void)seqgrad::data::g2p_pairs(g.train);
  } catch (const seqgrad::Error&) {
  }
  return 0;
}
