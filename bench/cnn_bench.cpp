// Forward + backward of the Fashion-MNIST CNN (models/cnn.h) on one batch of 64 random images,
// and each of its two convolutions alone (forward, then forward + backward), so that a change to
// conv2d can be measured layer by layer. images/s is what `seqgrad classify` can reach before the
// optimiser's share.
//
//   build/bench/bench_cnn
#include <benchmark/benchmark.h>

#include "models/cnn.h"

using namespace seqgrad;

namespace {

void BM_cnn_forward_backward(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)), models::kFashionCnnBlasThreads);
  Generator g(0);
  auto net = models::make_fashion_cnn(&g);
  const Variable x(randn({64, 1, 28, 28}, kFloat32, &g));
  const Tensor y = randint(0, 10, {64}, &g);
  for (auto _ : state) {
    Variable loss = nn::functional::cross_entropy((*net)(x), y);
    net->zero_grad();
    loss.backward();
  }
  state.counters["images/s"] =
      benchmark::Counter(64, benchmark::Counter::kIsIterationInvariantRate);
}

// The CNN's convolution `layer` (1: 1 -> 32 channels on 28x28, 2: 32 -> 64 on 14x14), batch 64,
// 3x3 kernel, padding 1; with backward = 1 the input needs a gradient as in the net (layer 2 only).
void BM_conv_layer(benchmark::State& state) {
  const bool first = state.range(0) == 1, backward = state.range(1) == 1;
  set_num_threads(static_cast<int>(state.range(2)), models::kFashionCnnBlasThreads);
  Generator g(0);
  const std::int64_t c = first ? 1 : 32, oc = first ? 32 : 64, hw = first ? 28 : 14;
  nn::Conv2d conv(c, oc, 3, 1, 1, 1, true, kFloat32, &g);
  const Tensor x = randn({64, c, hw, hw}, kFloat32, &g);
  const Tensor gy = randn({64, oc, hw, hw}, kFloat32, &g);
  for (auto _ : state) {
    // A new leaf per iteration: its gradient is then set, not added to the previous one's (in
    // the net, the second convolution's input is an intermediate, whose gradient is not kept).
    const Variable xv(x, /*requires_grad=*/!first);
    Variable y = conv(xv);
    if (backward) y.backward(gy);
    benchmark::DoNotOptimize(y.value().data<float>());
  }
  state.counters["images/s"] =
      benchmark::Counter(64, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_cnn_forward_backward)
    ->Arg(1)
    ->Arg(2)
    ->ArgName("threads")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK(BM_conv_layer)
    ->ArgsProduct({{1, 2}, {0, 1}, {1, 2}})
    ->ArgNames({"layer", "backward", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
