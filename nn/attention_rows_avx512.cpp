// The additive-attention read's float row loops (nn/attention_rows.h) compiled for AVX-512, so
// that the tanh, the dot products and the row updates run 16 lanes wide where the baseline build
// (x86-64-v3) has 8; nn/attention_rows.h calls them when cpu_path() is CpuPath::kAvx512. The
// loops are the header's, always inlined into the two functions of the target region below (why
// a region and not -mavx512f for the file: tensor/packed_gemm_kernels.h).
#include "nn/attention_rows.h"

#include "tensor/avx512_region_begin.h"

namespace seqgrad::nn::detail {

void attention_forward_rows_avx512(const AttentionShape& n, const std::int64_t* lengths,
                                   const float* q, const float* keys, const float* v,
                                   const float* values, float* tanh_out, float* alpha,
                                   float* context, float* scores, std::int64_t b0,
                                   std::int64_t b1) {
  attention_forward_rows<float>(n, lengths, q, keys, v, values, tanh_out, alpha, context, scores,
                                b0, b1);
}

void attention_backward_rows_avx512(const AttentionShape& n, const std::int64_t* lengths,
                                    const float* v, const float* values, const float* tanh_out,
                                    const float* alpha, const float* dc, float* dq, float* dkeys,
                                    float* dvalues, float* dv, float* dalpha, std::int64_t b0,
                                    std::int64_t b1) {
  attention_backward_rows<float>(n, lengths, v, values, tanh_out, alpha, dc, dq, dkeys, dvalues, dv,
                                 dalpha, b0, b1);
}

}  // namespace seqgrad::nn::detail

#include "tensor/avx512_region_end.h"
