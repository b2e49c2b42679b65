// seqgrad::matmul against raw cblas_sgemm on the GEMM shapes of a seq2seq training step
// (batch 64, hidden 256, three GRU gates = 768 columns), including the transposed-operand forms
// that backward passes use. Reports GFLOP/s; the argument is the OpenBLAS thread count.
//
//   build/bench/bench_matmul                     # all shapes, 1 and 2 threads
#include <benchmark/benchmark.h>
#include <cblas.h>

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

void BM_cblas_sgemm(benchmark::State& state, Shape s) {
  set_num_threads(static_cast<int>(state.range(0)));
  Generator g(0);
  const Tensor a = operand(s.m, s.k, s.trans_a, g), b = operand(s.k, s.n, s.trans_b, g);
  const Tensor c = empty({s.m, s.n});
  const auto ta = s.trans_a ? CblasTrans : CblasNoTrans, tb = s.trans_b ? CblasTrans : CblasNoTrans;
  const int lda = static_cast<int>(s.trans_a ? s.m : s.k),
            ldb = static_cast<int>(s.trans_b ? s.k : s.n);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(s.m), static_cast<int>(s.n),
                static_cast<int>(s.k), 1.0f, a.data<float>(), lda, b.data<float>(), ldb, 0.0f,
                c.data<float>(), static_cast<int>(s.n));
    benchmark::ClobberMemory();
  }
  set_flops(state, s);
}

int register_all() {
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
  }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
