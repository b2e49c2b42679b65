// bench_models: training or greedy-decoding throughput of one encoder-decoder on the `reverse`
// task; the seqgrad side of bench/compare. bench/torch_models.py is the PyTorch side: same
// options, same data definition, same JSON line, so the two can be run back to back.
//
//   bench_models --model cho|seq2seq|attention --mode train|decode --hidden 256 --threads 1
//
// All batches are generated before the clock starts. train: loss / target tokens, backward,
// clip 5, Adam 1e-3 (what `seqgrad train` does per step). decode: greedy from fresh parameters
// for exactly (longest source + EOS) + 2 steps, with no early stop at EOS (so both frameworks do
// the same work whatever their random parameters emit); sequences/s is the figure to compare.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "cli/model_options.h"
#include "data/training_data.h"
#include "models/seq2seq_io.h"
#include "optim/all.h"
#include "train/trainer.h"

using namespace seqgrad;

namespace {

struct Options {
  std::string model = models::default_model(), mode = "train";
  cli::ModelOptions model_options;  // --emb, --hidden, ... of every registered model
  std::int64_t batch = 64;
  std::int64_t steps = 30, warmup = 3, min_len = 5, max_len = 20;
  int threads = 1;
  bool data_parallel = false;  // train: each batch split across the threads (seqgrad train's flag)
  std::uint64_t seed = 0;
};

// Greedy decoding for exactly `steps` steps, with no early stop at EOS: fresh parameters emit
// EOS at arbitrary points, and a stop that depends on them would make the work differ between the
// two frameworks. torch_models.py decodes the same way.
void greedy_fixed_length(models::EncoderDecoder& net, const data::Batch& b, std::int64_t steps) {
  NoGradGuard no_grad;
  const GemmPackingScope packing;  // as EncoderDecoder::greedy does
  models::EncoderDecoder::DecoderState state = net.start_decoding(b.src, b.src_len);
  Tensor y = full({b.src.size(0)}, static_cast<double>(data::kBos), kInt64);
  for (std::int64_t t = 0; t < steps; ++t) y = argmax(net.decode_step(state, y), 1);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void run(const Options& o) {
  check(o.mode == "train" || o.mode == "decode", "bench_models: --mode is train or decode, got {}",
        o.mode);
  check(o.steps >= 1 && o.warmup >= 0, "bench_models: need --steps >= 1 and --warmup >= 0");
  set_num_threads(o.threads);
  const data::TaskOptions task{"reverse", o.min_len, o.max_len};
  const data::TrainingData corpus = data::task_data(task);
  Generator gen(o.seed);
  const nlohmann::json config = o.model_options.config_for(o.model);
  const auto net = models::make_model(o.model, config.dump(), corpus.src_vocab.size(),
                                      corpus.tgt_vocab.size(), &gen);
  const bool data_parallel = o.data_parallel && o.threads > 1 && o.mode == "train";
  check(!data_parallel || o.batch >= o.threads,
        "bench_models: --data-parallel needs --batch >= --threads");
  auto make = [&](const std::vector<data::Pair>& pairs) {
    return data::make_batch(pairs, corpus.src_vocab, corpus.tgt_vocab, corpus.src_tokens,
                            corpus.tgt_tokens);
  };
  std::vector<data::Batch> batches;
  std::vector<std::vector<data::Batch>> shards;  // --data-parallel: each batch's parts
  for (std::int64_t i = 0; i < o.warmup + o.steps; ++i) {
    std::vector<data::Pair> pairs = corpus.sample(o.batch, gen);
    batches.push_back(make(pairs));
    if (!data_parallel) continue;
    std::stable_sort(pairs.begin(), pairs.end(), data::longer_first);  // as seqgrad train
    shards.emplace_back();
    for (int k = 0; k < o.threads; ++k)
      shards.back().push_back(make(train::Shard{k, o.threads, *net}.deal(pairs)));
  }

  std::int64_t tokens = 0;
  double seconds = 0, gemm_flops = 0;
  if (o.mode == "train") {
    // The step `seqgrad train` takes: the Trainer's, on batches built before the clock starts.
    optim::Adam opt(net->parameters(), optim::AdamOptions{.lr = 1e-3});
    train::Trainer trainer(*net, opt, gen, {.clip = 5.0});
    if (data_parallel)  // the replicas `seqgrad train --data-parallel` makes
      trainer.set_replicas(o.threads, [&](Generator* g) {
        return models::make_model(o.model, config.dump(), corpus.src_vocab.size(),
                                  corpus.tgt_vocab.size(), g);
      });
    auto start = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < o.warmup + o.steps; ++i) {
      if (i == o.warmup) start = std::chrono::steady_clock::now();
      const data::Batch& b = batches[static_cast<std::size_t>(i)];
      if (data_parallel)
        trainer.step_data_parallel([&](const train::Shard& s) {
          const data::Batch& part = shards[static_cast<std::size_t>(i)][s.index];
          auto& m = static_cast<models::EncoderDecoder&>(s.model);
          return train::BatchLoss{m.loss(part) / static_cast<double>(part.target_tokens),
                                  part.target_tokens};
        });
      else
        trainer.step({net->loss(b) / static_cast<double>(b.target_tokens), b.target_tokens});
      if (i >= o.warmup) {
        tokens += b.target_tokens;
        gemm_flops += net->training_gemm_flops(b);  // 0 for a model that does not say
      }
    }
    seconds = seconds_since(start);
  } else {
    net->eval();
    // One packing scope over all batches, as models::evaluate opens over a data set: the weights
    // are packed during the warm-up batches and reused after (the per-batch scope nests in it).
    const GemmPackingScope packing;
    auto start = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < o.warmup + o.steps; ++i) {
      if (i == o.warmup) start = std::chrono::steady_clock::now();
      const data::Batch& b = batches[static_cast<std::size_t>(i)];
      const std::int64_t steps = b.src.size(1) + 2;  // src holds the longest source + EOS
      greedy_fixed_length(*net, b, steps);
      if (i >= o.warmup) tokens += steps * b.src.size(0);
    }
    seconds = seconds_since(start);
  }
  const double sequences = static_cast<double>(o.steps * o.batch);
  fmt::print(
      "{{\"framework\": \"seqgrad\", \"model\": \"{}\", \"mode\": \"{}\", \"hidden\": {}, "
      "\"threads\": {}, \"data_parallel\": {}, \"steps\": {}, \"seconds\": {:.4f}, "
      "\"tokens_per_s\": {:.1f}, \"sequences_per_s\": {:.1f}{}}}\n",
      o.model, o.mode, config.value("hidden", std::int64_t{0}), o.threads, data_parallel, o.steps,
      seconds, static_cast<double>(tokens) / seconds, sequences / seconds,
      gemm_flops > 0
          ? fmt::format(", \"gemm_gflop_per_step\": {:.3f}, \"gemm_gflop_per_s\": {:.1f}",
                        gemm_flops / 1e9 / static_cast<double>(o.steps), gemm_flops / 1e9 / seconds)
          : "");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app("Training or greedy-decoding throughput of one encoder-decoder (seqgrad side)");
  app.add_option("--model", o.model, "Any registered model (see seqgrad train --help)")
      ->capture_default_str();
  app.add_option("--mode", o.mode, "train or decode")->capture_default_str();
  o.model_options.add_to(app);  // the models' own options, with their defaults
  app.add_option("--batch", o.batch)->capture_default_str();
  app.add_option("--steps", o.steps, "timed steps (batches)")->capture_default_str();
  app.add_option("--warmup", o.warmup, "untimed steps first")->capture_default_str();
  app.add_option("--min-len", o.min_len)->capture_default_str();
  app.add_option("--max-len", o.max_len)->capture_default_str();
  app.add_option("--threads", o.threads)->capture_default_str();
  app.add_flag("--data-parallel", o.data_parallel,
               "train: split each batch across the threads, one model replica each");
  app.add_option("--seed", o.seed)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    run(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_models: {}\n", e.what());
    return 1;
  }
  return 0;
}
