// The canary's constants compiled for AVX-512 (x86-64-v4) whatever the build's -march, so that the
// test can run them wherever the CPU has AVX-512. Only an extern "C" function and the header's
// static one live here: no inline function shared with other files, whose AVX-512 copy the linker
// could pick for the whole program.
#include "tensor/constant_canary.h"

extern "C" void seqgrad_canary_store_avx512(seqgrad::testing::canary::Constants* out) {
  seqgrad::testing::canary::store_constants(out);
}
