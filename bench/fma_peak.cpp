// The FMA peak of the cores a run uses, the denominator of bench/compare's utilisation column:
// independent chains of fused multiply-adds (12 or 16 accumulators, so that the FMA latency
// never limits), on the widest vector path the kernels take (tensor/cpu.h: SEQGRAD_CPU applies), on
// `--threads` threads at once. Prints one JSON line:
//   build/bench/fma_peak --threads 2
//   {"path": "avx512", "threads": 2, "gflops": 441.3, "gflops_per_thread": 220.6, ...}
#include <immintrin.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "tensor/cpu.h"

namespace {

// Enough independent accumulators to cover the FMA latency times the FMA pipes, and few enough
// to stay in registers with the two operands: AVX2 has 16 ymm registers, AVX-512 32 zmm.
constexpr int kChainsAvx2 = 12, kChainsAvx512 = 16;
constexpr long kRounds = 1 << 24;

#pragma GCC push_options
#pragma GCC target("avx2,fma")
// kRounds x kChainsAvx2 FMAs of 8 lanes; returns a value that depends on all of them.
__attribute__((noinline)) float chains_avx2(float seed) {
  constexpr int kChains = kChainsAvx2;
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(seed * static_cast<float>(i + 1));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long r = 0; r < kRounds; ++r) {
#pragma GCC unroll 12
    for (int j = 0; j < kChains; ++j) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
  }
  __m256 s = acc[0];
  for (int j = 1; j < kChains; ++j) s = _mm256_add_ps(s, acc[j]);
  return _mm256_cvtss_f32(s);
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
__attribute__((noinline)) float chains_avx512(float seed) {
  constexpr int kChains = kChainsAvx512;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(seed * static_cast<float>(i + 1));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long r = 0; r < kRounds; ++r) {
#pragma GCC unroll 16
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  }
  __m512 s = acc[0];
  for (int j = 1; j < kChains; ++j) s = _mm512_add_ps(s, acc[j]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  return lanes[0] + lanes[15];
}
#pragma GCC pop_options

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"FMA peak of the cores used, on the kernels' vector path"};
  int threads = 1, repeats = 3;
  app.add_option("--threads", threads, "threads running at once")->check(CLI::Range(1, 256));
  app.add_option("--repeats", repeats, "best of this many runs")->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  const seqgrad::CpuPath path = seqgrad::cpu_path();
  if (path == seqgrad::CpuPath::kGeneric) {
    std::fprintf(stderr, "fma_peak: the CPU has no AVX2 + FMA path\n");
    return 1;
  }
  const bool wide = path == seqgrad::CpuPath::kAvx512;
  const double lanes = wide ? 16 : 8;
  double best = 0;
  for (int rep = 0; rep < repeats; ++rep) {
    std::vector<std::thread> pool;
    std::vector<float> sink(static_cast<std::size_t>(threads));
    const auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        sink[static_cast<std::size_t>(t)] = wide ? chains_avx512(1e-3f * static_cast<float>(t + 1))
                                                 : chains_avx2(1e-3f * static_cast<float>(t + 1));
      });
    for (std::thread& th : pool) th.join();
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double flops =
        2.0 * lanes * (wide ? kChainsAvx512 : kChainsAvx2) * static_cast<double>(kRounds) * threads;
    if (sink[0] != sink[0]) std::printf("nan\n");  // keeps the results alive
    best = std::max(best, flops / s * 1e-9);
  }
  std::printf(
      "{\"path\": \"%s\", \"threads\": %d, \"gflops\": %.1f, \"gflops_per_thread\": %.1f, "
      "\"cpu\": \"%s\", \"features\": \"%s\"}\n",
      seqgrad::cpu_path_name(path), threads, best, best / threads,
      seqgrad::cpu_model_name().c_str(), seqgrad::cpu_vector_features().c_str());
  return 0;
}
