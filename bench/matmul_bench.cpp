// seqgrad::matmul against raw cblas_sgemm on the GEMM shapes of a seq2seq training step
// (batch 64, hidden 256, three GRU gates = 768 columns), including the transposed-operand forms
// that backward passes use. Reports GFLOP/s; the argument is the OpenBLAS thread count.
//
//   build/bench/bench_matmul                     # all shapes, 1 and 2 threads
//   build/bench/bench_matmul --benchmark_filter=interleaved   # the noise-robust ratio
//
// On a shared VM two separately timed benchmarks can differ by 30% from run-to-run drift alone, so
// `interleaved/...` times both sides inside one loop, alternating which goes first, and reports
// seqgrad's time over sgemm's for the same iterations: drift hits both equally and cancels.
// `packed/...` does the same for a recurrent layer's per-step products, where seqgrad's gemm runs
// inside a GemmPackingScope (tensor/packed_gemm.h):
//   build/bench/bench_matmul --benchmark_filter=packed --benchmark_repetitions=5
//       --benchmark_format=json | bench/summarize_matmul.py packed
// `fma_peak` is the core's FMA peak, the ceiling for all of the above:
//   build/bench/bench_matmul --benchmark_filter=fma_peak
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <chrono>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "tensor/all.h"

using namespace seqgrad;

namespace {

struct Shape {
  const char* name;
  std::int64_t m, k, n;
  bool trans_a, trans_b;  // operand stored transposed (as backward passes see it)
};

// x[64,256] @ W[256,768]; h[64,768] @ W[768,256]; dX = dY[64,768] @ W^T with W stored [256,768];
// dW = X^T @ dY with X stored [64,256].
constexpr Shape kShapes[] = {
    {"64x256 @ 256x768", 64, 256, 768, false, false},
    {"64x768 @ 768x256", 64, 768, 256, false, false},
    {"64x768 @ (256x768)^T", 64, 768, 256, false, true},
    {"(64x256)^T @ 64x768", 256, 64, 768, true, false},
    {"64x256 @ (768x256)^T", 64, 256, 768, false, true},
    {"(64x768)^T @ 64x256", 768, 64, 256, true, false},
};

Tensor operand(std::int64_t rows, std::int64_t cols, bool stored_transposed, Generator& g) {
  return stored_transposed ? randn({cols, rows}, kFloat32, &g).t()
                           : randn({rows, cols}, kFloat32, &g);
}

void set_flops(benchmark::State& state, const Shape& s) {
  const double flops = 2.0 * static_cast<double>(s.m * s.k * s.n);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_seqgrad_matmul(benchmark::State& state, Shape s) {
  set_num_threads(static_cast<int>(state.range(0)));
  Generator g(0);
  const Tensor a = operand(s.m, s.k, s.trans_a, g), b = operand(s.k, s.n, s.trans_b, g);
  for (auto _ : state) {
    Tensor c = matmul(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_flops(state, s);
}

// c = a @ b straight through cblas_sgemm, with the transpose flags and leading dimensions of the
// operands as stored: the baseline seqgrad::matmul is measured against.
void raw_sgemm(const Shape& s, const Tensor& a, const Tensor& b, const Tensor& c) {
  const auto ta = s.trans_a ? CblasTrans : CblasNoTrans, tb = s.trans_b ? CblasTrans : CblasNoTrans;
  const int lda = static_cast<int>(s.trans_a ? s.m : s.k),
            ldb = static_cast<int>(s.trans_b ? s.k : s.n);
  cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(s.m), static_cast<int>(s.n),
              static_cast<int>(s.k), 1.0f, a.data<float>(), lda, b.data<float>(), ldb, 0.0f,
              c.data<float>(), static_cast<int>(s.n));
}

void BM_cblas_sgemm(benchmark::State& state, Shape s) {
  set_num_threads(static_cast<int>(state.range(0)));
  Generator g(0);
  const Tensor a = operand(s.m, s.k, s.trans_a, g), b = operand(s.k, s.n, s.trans_b, g);
  const Tensor c = empty({s.m, s.n});
  for (auto _ : state) {
    raw_sgemm(s, a, b, c);
    benchmark::ClobberMemory();
  }
  set_flops(state, s);
}

void BM_interleaved(benchmark::State& state, Shape s) {
  set_num_threads(static_cast<int>(state.range(0)));
  Generator g(0);
  const Tensor a = operand(s.m, s.k, s.trans_a, g), b = operand(s.k, s.n, s.trans_b, g);
  const Tensor c = empty({s.m, s.n});
  using Clock = std::chrono::steady_clock;
  auto run_seqgrad = [&] {
    const auto t0 = Clock::now();
    Tensor r = matmul(a, b);
    benchmark::DoNotOptimize(r.raw_data());
    return Clock::now() - t0;
  };
  auto run_sgemm = [&] {
    const auto t0 = Clock::now();
    raw_sgemm(s, a, b, c);
    benchmark::ClobberMemory();
    return Clock::now() - t0;
  };
  Clock::duration seqgrad_time{}, sgemm_time{};
  bool seqgrad_first = true;
  for (auto _ : state) {
    if (seqgrad_first) {
      seqgrad_time += run_seqgrad();
      sgemm_time += run_sgemm();
    } else {
      sgemm_time += run_sgemm();
      seqgrad_time += run_seqgrad();
    }
    seqgrad_first = !seqgrad_first;
  }
  const double flops = 2.0 * static_cast<double>(s.m * s.k * s.n) * state.iterations();
  const double seqgrad_s = std::chrono::duration<double>(seqgrad_time).count(),
               sgemm_s = std::chrono::duration<double>(sgemm_time).count();
  state.counters["seqgrad_GFLOP/s"] = flops * 1e-9 / seqgrad_s;
  state.counters["sgemm_GFLOP/s"] = flops * 1e-9 / sgemm_s;
  state.counters["time_ratio"] = seqgrad_s / sgemm_s;  // < 1.10 is the goal
}

// The per-step products of an LSTM layer (4 gates) at batch 64: forward h @ W_hh^T, backward
// dgates @ W_hh, with 4 weights of that shape used in turn (as a 2-layer LSTM's W_ih and W_hh
// are): seqgrad's gemm inside a GemmPackingScope, which packs each weight once and reuses it,
// against cblas_sgemm, which packs on every call.
struct StepShape {
  const char* name;
  std::int64_t m, k, n;
  bool weight_transposed;  // forward: b = W^T with W stored [n, k]
};
constexpr StepShape kStepShapes[] = {
    {"64x128 @ (512x128)^T", 64, 128, 512, true},   {"64x512 @ 512x128", 64, 512, 128, false},
    {"64x256 @ (1024x256)^T", 64, 256, 1024, true}, {"64x1024 @ 1024x256", 64, 1024, 256, false},
    {"64x512 @ (2048x512)^T", 64, 512, 2048, true}, {"64x2048 @ 2048x512", 64, 2048, 512, false},
};

void BM_packed_interleaved(benchmark::State& state, StepShape s) {
  set_num_threads(static_cast<int>(state.range(0)));
  Generator g(0);
  const Tensor a = randn({s.m, s.k}, kFloat32, &g), c = empty({s.m, s.n});
  std::vector<Tensor> weights;
  for (int i = 0; i < 4; ++i) weights.push_back(operand(s.k, s.n, s.weight_transposed, g));
  const Shape raw{s.name, s.m, s.k, s.n, false, s.weight_transposed};
  const GemmPackingScope packing;
  using Clock = std::chrono::steady_clock;
  Clock::duration seqgrad_time{}, sgemm_time{};
  std::size_t turn = 0;
  for (auto _ : state) {
    const Tensor& w = weights[turn++ % weights.size()];
    const bool seqgrad_first = turn % 2 == 0;
    for (int side = 0; side < 2; ++side) {
      const auto t0 = Clock::now();
      if ((side == 0) == seqgrad_first) {
        gemm(a, w, c);
        benchmark::ClobberMemory();
        seqgrad_time += Clock::now() - t0;
      } else {
        raw_sgemm(raw, a, w, c);
        benchmark::ClobberMemory();
        sgemm_time += Clock::now() - t0;
      }
    }
  }
  const double flops = 2.0 * static_cast<double>(s.m * s.k * s.n) * state.iterations();
  const double seqgrad_s = std::chrono::duration<double>(seqgrad_time).count(),
               sgemm_s = std::chrono::duration<double>(sgemm_time).count();
  state.counters["seqgrad_GFLOP/s"] = flops * 1e-9 / seqgrad_s;
  state.counters["sgemm_GFLOP/s"] = flops * 1e-9 / sgemm_s;
  state.counters["time_ratio"] = seqgrad_s / sgemm_s;
}

#if defined(__AVX2__) && defined(__FMA__)
// The core's single-precision FMA peak, the yardstick for the GFLOP/s above: 12 independent
// chains of 8-lane fused multiply-adds in registers (enough to cover the FMA latency on both
// pipes), no memory traffic.
void BM_fma_peak(benchmark::State& state) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  constexpr std::int64_t kRounds = 1 << 20;
  for (auto _ : state) {
    for (std::int64_t r = 0; r < kRounds; ++r) {
#pragma GCC unroll 12
      for (int j = 0; j < 12; ++j) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
    }
    for (int j = 0; j < 12; ++j) benchmark::DoNotOptimize(acc[j]);
  }
  // A rate counter: Google Benchmark divides by the time and prints "GFLOP=<value>/s".
  state.counters["GFLOP"] =
      benchmark::Counter(12.0 * 16.0 * kRounds * static_cast<double>(state.iterations()) * 1e-9,
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_fma_peak)->Name("fma_peak");
#endif

int register_all() {
  for (const StepShape& s : kStepShapes)
    benchmark::RegisterBenchmark((std::string("packed/") + s.name).c_str(), BM_packed_interleaved,
                                 s)
        ->Arg(1)
        ->Arg(2)
        ->ArgName("threads")
        ->MinTime(1.0);
  for (const Shape& s : kShapes) {
    benchmark::RegisterBenchmark((std::string("seqgrad_matmul/") + s.name).c_str(),
                                 BM_seqgrad_matmul, s)
        ->Arg(1)
        ->Arg(2)
        ->ArgName("threads")
        ->MinTime(0.3);
    benchmark::RegisterBenchmark((std::string("cblas_sgemm/") + s.name).c_str(), BM_cblas_sgemm, s)
        ->Arg(1)
        ->Arg(2)
        ->ArgName("threads")
        ->MinTime(0.3);
    benchmark::RegisterBenchmark((std::string("interleaved/") + s.name).c_str(), BM_interleaved, s)
        ->Arg(1)
        ->Arg(2)
        ->ArgName("threads")
        ->MinTime(1.0);
  }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
