// Forward + backward of one GRU and one LSTM layer over T = 20 steps, batch 64, input 64,
// hidden 256 (the reference shape), at 1 and 2 threads. The loss is a fixed random
// weighting of the outputs, so every output carries a gradient; the input requires grad too, as
// an embedding's output would. bench/torch_rnn.py measures the same in PyTorch.
//
//   build/bench/bench_rnn
#include <benchmark/benchmark.h>

#include "nn/all.h"

using namespace seqgrad;

namespace {

constexpr std::int64_t kT = 20, kB = 64, kI = 64, kH = 256;

void BM_layer_forward_backward(benchmark::State& state, const char* cell) {
  set_num_threads(static_cast<int>(state.range(0)));
  Generator g(0);
  nn::Recurrent layer(cell, kI, kH, {.gen = &g});
  const Variable x(randn({kT, kB, kI}, kFloat32, &g), true);
  const Variable weights(randn({kT, kB, kH}, kFloat32, &g));
  for (auto _ : state) {
    const Variable loss = sum(layer(x).output * weights);
    layer.zero_grad();
    x.zero_grad();
    loss.backward();
  }
  state.counters["sequences/s"] =
      benchmark::Counter(kB, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK_CAPTURE(BM_layer_forward_backward, gru, "gru")
    ->Arg(1)
    ->Arg(2)
    ->ArgName("threads")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_layer_forward_backward, lstm, "lstm")
    ->Arg(1)
    ->Arg(2)
    ->ArgName("threads")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
