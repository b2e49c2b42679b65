// A checkpoint file as `seqgrad eval/translate/info --checkpoint` reads it: the safetensors
// container (header, offsets, dtypes), then the model metadata (model name, config JSON, vocabs)
// and the parameters. Any input must give a loaded model or a seqgrad::Error, nothing else.
#include "models/seq2seq_io.h"
#include "nn/checkpoint.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = seqgrad::fuzz::input_file(data, size, ".safetensors");
  try {
    (void)seqgrad::nn::load_safetensors(path);
    (void)seqgrad::models::load_model(path);
  } catch (const seqgrad::Error&) {
  }
  return 0;
}
