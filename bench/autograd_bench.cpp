// Per-op cost of the autograd engine: forward + backward of a chain of 100 elementwise ops
// (25 rounds of y = sigmoid(tanh(y * w + b)) ... see chain()), on a 1-element tensor (pure
// overhead: graph recording, allocation, dispatch) and on a 64x256 tensor (kernels dominate).
// bench/torch_autograd.py measures the same graph in PyTorch.
//
//   build/bench/bench_autograd
#include <benchmark/benchmark.h>

#include "seqgrad.h"

using namespace seqgrad;

namespace {

constexpr int kOps = 100;

// 25 rounds of 4 ops: mul, add, tanh, sigmoid (the same in bench/torch_autograd.py).
Variable chain(Variable y, const Variable& w, const Variable& b) {
  for (int i = 0; i < kOps / 4; ++i) y = sigmoid(tanh(y * w + b));
  return y;
}

void BM_chain_forward_backward(benchmark::State& state) {
  set_num_threads(1);
  const Dims shape = state.range(0) == 1 ? Dims{1} : Dims{64, 256};
  Generator g(0);
  Variable x(randn(shape, kFloat32, &g), true), w(randn(shape, kFloat32, &g), true),
      b(randn(shape, kFloat32, &g), true);
  for (auto _ : state) {
    Variable loss = sum(chain(x, w, b));
    loss.backward();
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
  }
  // Microseconds per op: (seconds / iterations) / (kOps * 1e-6).
  state.counters["us_per_op"] = benchmark::Counter(
      kOps * 1e-6, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

}  // namespace

BENCHMARK(BM_chain_forward_backward)
    ->Arg(1)
    ->Arg(64 * 256)
    ->ArgName("numel")
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
