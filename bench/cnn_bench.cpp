// Forward + backward of the Fashion-MNIST CNN (models/cnn.h) on one batch of 64 random images,
// per layer kind; images/s is what `seqgrad classify` can reach before the optimiser's share.
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

}  // namespace

BENCHMARK(BM_cnn_forward_backward)
    ->Arg(1)
    ->Arg(2)
    ->ArgName("threads")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
