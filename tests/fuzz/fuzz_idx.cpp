// IDX bytes (the MNIST / Fashion-MNIST format) as `seqgrad classify` parses them after reading
// (and, for .gz files, decompressing) the file.
#include "data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)seqgrad::data::parse_idx(std::vector<std::uint8_t>(data, data + size), "fuzz.idx");
  } catch (const seqgrad::Error&) {
  }
  return 0;
}
