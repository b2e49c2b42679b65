// What the Transformer's key/value cache buys in greedy decoding: `cached` runs the model's own
// decode_step (each decoder layer keeps the keys and values of the positions decoded so far, so a
// step computes one new position); `uncached` is what decoding costs without it: every step runs
// the teacher-forced decoder over the whole prefix again and keeps only its last position. Both
// encode once and decode exactly `len` steps with no stop at EOS, from the same parameters (the
// bench model: d_model 256, 4 heads, 3 + 3 layers, ffn 1024), for batch 1 and 64, at 1 thread,
// inside a GemmPackingScope as the model's own greedy and beam search run.
//
//   build/bench/bench_transformer_decode
#include <benchmark/benchmark.h>

#include "models/transformer.h"

using namespace seqgrad;

namespace {

constexpr std::int64_t kVocab = 36, kSourceLen = 30;

struct Setup {
  Generator gen{0};
  models::Transformer model;
  Tensor src;
  std::vector<std::int64_t> src_len;
  explicit Setup(std::int64_t batch)
      : model(models::TransformerConfig{.src_vocab = kVocab, .tgt_vocab = kVocab}, &gen) {
    model.eval();
    src = randint(data::kUnk + 1, kVocab, {batch, kSourceLen}, &gen);
    src_len.assign(static_cast<std::size_t>(batch), kSourceLen);
  }
};

void BM_greedy_cached(benchmark::State& state) {
  set_num_threads(1);
  Setup s(state.range(0));
  const std::int64_t len = state.range(1);
  for (auto _ : state) {
    NoGradGuard no_grad;
    const GemmPackingScope packing;  // as EncoderDecoder::greedy does
    auto dec = s.model.start_decoding(s.src, s.src_len);
    Tensor y = full({state.range(0)}, static_cast<double>(data::kBos), kInt64);
    for (std::int64_t t = 0; t < len; ++t) y = argmax(s.model.decode_step(dec, y), 1);
    benchmark::DoNotOptimize(y.data<std::int64_t>());
  }
  state.counters["sequences/s"] = benchmark::Counter(static_cast<double>(state.range(0)),
                                                     benchmark::Counter::kIsIterationInvariantRate);
}

void BM_greedy_uncached(benchmark::State& state) {
  set_num_threads(1);
  Setup s(state.range(0));
  const std::int64_t N = state.range(0), len = state.range(1);
  const std::int64_t D = s.model.config().d_model;
  for (auto _ : state) {
    NoGradGuard no_grad;
    const GemmPackingScope packing;
    const Variable memory = s.model.encode(s.src, s.src_len);
    Tensor prev = full({N, len}, static_cast<double>(data::kBos), kInt64);
    Tensor y;
    for (std::int64_t t = 1; t <= len; ++t) {
      const Variable h = s.model.decode(memory, s.src_len, prev.narrow(1, 0, t).contiguous(),
                                        std::vector<std::int64_t>(static_cast<std::size_t>(N), t));
      const Variable last = h.narrow(1, t - 1, 1).reshape({N, D});
      y = argmax(log_softmax(s.model.output->forward(last), 1).value(), 1);
      if (t < len) prev.narrow(1, t, 1).copy_(y.reshape({N, 1}));
    }
    benchmark::DoNotOptimize(y.data<std::int64_t>());
  }
  state.counters["sequences/s"] =
      benchmark::Counter(static_cast<double>(N), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_greedy_cached)
    ->ArgsProduct({{1, 64}, {30}})
    ->ArgNames({"batch", "len"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_greedy_uncached)
    ->ArgsProduct({{1, 64}, {30}})
    ->ArgNames({"batch", "len"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
