// Opens a target region: every function defined between this include and
// tensor/avx512_region_end.h is compiled for AVX-512 (F, BW, DQ, VL) with AVX2 and FMA, while the
// rest of the build stays on its baseline (x86-64-v3). Such functions run only where cpu_path()
// is CpuPath::kAvx512; why a region and not -mavx512f for the whole file:
// tensor/packed_gemm_kernels.h. No include guard: each region file opens and closes one region.
#if defined(__clang__)
#pragma clang attribute push( \
    __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
#endif
