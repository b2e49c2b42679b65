// `seqgrad train`: trains a registered encoder-decoder (models/registry.h) on a built-in task, TSV
// files or g2p, through the Trainer (train/trainer.h): evaluation on the dev set every
// --eval-every steps, metrics.csv / metrics.jsonl, the best and last checkpoints and the state
// that --resume reads, all in the run folder; one JSON line at the end.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "data/training_data.h"
#include "models/evaluate.h"
#include "models/registry.h"
#include "models/seq2seq_io.h"
#include "optim/all.h"
#include "train/all.h"

namespace seqgrad::cli {

namespace {

struct TrainOptions {
  data::TaskOptions task;
  std::string train_file, dev_file;  // instead of a task
  std::string src_tokens = "char", tgt_tokens = "char";
  std::string model = models::default_model();
  ModelOptions model_options;  // --emb, --hidden, ... of every registered model
  std::int64_t batch = 64;
  bool bucket = false;  // batches of similar source length
  std::string optim = "adam";
  std::string schedule = "constant";  // cosine: lr decays to 0 over --steps; noam: warm-up
  std::int64_t warmup = 0;  // warm-up steps (noam's 0: a tenth of --steps; cosine's 0: none)
  double lr = 1e-3, clip = 5.0;
  double adam_beta2 = 0.999;       // the Transformer recipe's 0.98 lets a higher rate through
  double time_limit = 0;           // seconds of training and evaluation (0: no limit)
  std::string nonfinite = "stop";  // a NaN/Inf loss or gradient: stop, or skip the batch
  bool detect_anomaly = false;     // name the op that made the first NaN/Inf (slow)
  std::int64_t steps = 2000, eval_every = 200, patience = 0;
  double stop_at = 0.0;  // stop once the dev score reaches this (0: never)
  std::uint64_t seed = 0;
  int threads = default_threads();
  bool data_parallel = false;  // each batch split across the threads, one model replica each
  std::string out;             // empty: a fresh folder under runs/
  bool resume = false;
  bool lengths_given = false;  // --min-len or --max-len on the command line
  bool quiet = false;          // no progress output
  std::int64_t log_every = 0;  // without a terminal: a progress line every N steps (0: per phase)
};

// Options a resumed run may change; any other change is refused (train::Trainer).
const std::set<std::string> kResumable = {"steps",    "time_limit",    "eval_every",
                                          "threads",  "data_parallel", "stop_at",
                                          "patience", "nonfinite",     "detect_anomaly"};

// --warmup as used: noam's default is a tenth of --steps, cosine's is none.
std::int64_t warmup_steps(const TrainOptions& o) {
  if (o.schedule == "noam")
    return o.warmup > 0 ? o.warmup : std::max<std::int64_t>(1, o.steps / 10);
  return o.schedule == "cosine" ? o.warmup : 0;
}

// Everything that defines the run, as saved in OUT/options.json, the state and the checkpoints.
nlohmann::json run_options(const TrainOptions& o, const nlohmann::json& model_config) {
  nlohmann::json j = {{"model", o.model},
                      {"model_config", model_config},
                      {"batch", o.batch},
                      {"bucket", o.bucket},
                      {"optim", o.optim},
                      {"schedule", o.schedule},
                      {"warmup", warmup_steps(o)},
                      {"lr", o.lr},
                      {"adam_beta2", o.adam_beta2},
                      {"clip", o.clip},
                      {"steps", o.steps},
                      {"eval_every", o.eval_every},
                      {"time_limit", o.time_limit},
                      {"patience", o.patience},
                      {"stop_at", o.stop_at},
                      {"nonfinite", o.nonfinite},
                      {"detect_anomaly", o.detect_anomaly},
                      {"seed", o.seed},
                      {"threads", o.threads}};
  // Only when set, so that the runs saved before the option existed still resume.
  if (o.data_parallel) j["data_parallel"] = true;
  if (o.train_file.empty()) {
    j["task"] = o.task.name;
    j["min_len"] = o.task.min_len;
    j["max_len"] = o.task.max_len;
  } else {
    j["train"] = o.train_file;
    j["dev"] = o.dev_file;
    j["src_tokens"] = o.src_tokens;
    j["tgt_tokens"] = o.tgt_tokens;
  }
  return j;
}

// The checkpoint's "config": the model's options (the keys the reference scripts read), plus how
// the data was tokenised and the task it was trained on.
nlohmann::json checkpoint_config(const nlohmann::json& model_config,
                                 const data::TrainingData& corpus) {
  nlohmann::json config = model_config;
  config["tokens"] = "char";
  config["src_tokens"] = data::tokens_name(corpus.src_tokens);
  config["tgt_tokens"] = data::tokens_name(corpus.tgt_tokens);
  config["task"] = corpus.name;
  if (corpus.task) {
    config["min_len"] = corpus.task->min_len;
    config["max_len"] = corpus.task->max_len;
  }
  return config;
}

// Refuses, before the first step, data the model cannot read: a source or target longer than its
// position table. (The model would throw too, but only at the batch that holds the pair, after
// the run had started.)
void check_lengths(const models::EncoderDecoder& model, const std::string& name,
                   const data::TrainingData& corpus) {
  const models::LengthLimits limits = model.length_limits(), none;
  if (limits.source == none.source && limits.target == none.target) return;
  auto check_side = [&](const char* side, std::int64_t tokens, std::int64_t limit,
                        const std::string& where) {
    check(tokens <= limit,
          "train: {} has a {} of {} tokens, longer than the {} model's position table allows "
          "({}; raise --max-positions)",
          where, side, tokens, name, limit);
  };
  check(!corpus.task || corpus.task->max_len <= limits.source,
        "train: --max-len {} makes sources longer than the {} model's position table allows ({}; "
        "raise --max-positions)",
        corpus.task ? corpus.task->max_len : 0, name, limits.source);
  for (const auto* pairs : {&corpus.train, &corpus.dev}) {
    const char* which = pairs == &corpus.train ? "training" : "dev";
    for (std::size_t i = 0; i < pairs->size(); ++i) {
      const data::Pair& p = (*pairs)[i];
      const std::string where = fmt::format("{} pair {} ('{:.20}')", which, i + 1, p.source);
      check_side("source",
                 static_cast<std::int64_t>(data::tokenize(p.source, corpus.src_tokens).size()),
                 limits.source, where);
      check_side("target",
                 static_cast<std::int64_t>(data::tokenize(p.target, corpus.tgt_tokens).size()),
                 limits.target, where);
    }
  }
}

void run_train(TrainOptions& o) {
  check(o.lr > 0 && std::isfinite(o.lr), "train: --lr must be positive, got {}", o.lr);
  check(o.time_limit >= 0 && std::isfinite(o.time_limit),
        "train: --time-limit must be >= 0 seconds, got {}", o.time_limit);
  check(o.dev_file.empty() || !o.train_file.empty(),
        "train: --dev goes with --train (a built-in --task brings its own held-out set)");
  check(!o.resume || !o.out.empty(), "train: --resume needs the run's --out folder");
  check(!o.data_parallel || o.batch >= o.threads,
        "train: --data-parallel splits each batch across the {} threads: --batch {} is smaller",
        o.threads, o.batch);
  check(o.schedule != "cosine" || o.warmup < o.steps,
        "train: --warmup {} leaves no steps for the cosine decay (--steps {})", o.warmup, o.steps);
  const std::set<std::string> generated = {"reverse", "copy", "sort", "add"};
  check(!o.lengths_given || (o.train_file.empty() && generated.count(o.task.name)),
        "train: --min-len/--max-len set the source lengths of the generated tasks (reverse, copy, "
        "sort, add); {} does not use them",
        o.train_file.empty() ? "the task '" + o.task.name + "'" : std::string("--train data"));
  const nlohmann::json model_config = o.model_options.config_for(o.model);
  set_num_threads(o.threads);
  AnomalyMode::set_enabled(o.detect_anomaly);

  const data::TrainingData corpus =
      !o.train_file.empty()
          ? data::tsv_data(o.train_file, o.dev_file, data::parse_tokens(o.src_tokens),
                           data::parse_tokens(o.tgt_tokens))
      : o.task.name == "g2p" ? data::g2p_data()
                             : data::task_data(o.task);
  const data::Vocab &sv = corpus.src_vocab, &tv = corpus.tgt_vocab;
  Generator gen(o.seed);
  const nlohmann::json config = checkpoint_config(model_config, corpus);
  const auto net = models::make_model(o.model, config.dump(), sv.size(), tv.size(), &gen);
  models::EncoderDecoder& model = *net;
  check_lengths(model, o.model, corpus);
  std::unique_ptr<optim::Optimizer> opt;
  if (o.optim == "adam")
    opt = std::make_unique<optim::Adam>(
        model.parameters(), optim::AdamOptions{.lr = o.lr, .betas = {0.9, o.adam_beta2}});
  else
    opt = std::make_unique<optim::SGD>(model.parameters(), optim::SGDOptions{.lr = o.lr});

  const std::string data_name =
      o.train_file.empty() ? o.task.name : std::filesystem::path(o.train_file).stem().string();
  const std::filesystem::path out = o.out.empty()
                                        ? fresh_run_folder(fmt::format("{}-{}", o.model, data_name))
                                        : std::filesystem::path(o.out);
  const nlohmann::json options = run_options(o, model_config);
  const nlohmann::json src = sv.tokens(), tgt = tv.tokens();
  train::Trainer trainer(
      model, *opt, gen,
      {.max_steps = o.steps,
       .eval_every = o.eval_every,
       .time_limit = o.time_limit,
       .patience = o.patience,
       .stop_at = o.stop_at > 0 ? o.stop_at : std::numeric_limits<double>::quiet_NaN(),
       .clip = o.clip,
       .nonfinite = o.nonfinite == "skip" ? train::NonFinite::Skip : train::NonFinite::Stop,
       .out = out,
       .resume = o.resume,
       .config = options,
       .may_change_on_resume = kResumable,
       .checkpoint_metadata = {{"format", "seqgrad-checkpoint"},
                               {"model", o.model},
                               {"config", config.dump()},
                               {"options", options.dump()},
                               {"src_vocab", src.dump()},
                               {"tgt_vocab", tgt.dump()}},
       .handle_signals = true});
  if (o.schedule == "cosine" && warmup_steps(o) == 0)
    trainer.set_schedule(std::make_shared<optim::CosineAnnealingLR>(*opt, o.steps));
  if (o.schedule == "cosine" && warmup_steps(o) > 0)
    trainer.set_schedule(std::make_shared<optim::WarmupCosineLR>(*opt, warmup_steps(o), o.steps));
  if (o.schedule == "noam")
    trainer.set_schedule(std::make_shared<optim::NoamLR>(*opt, warmup_steps(o)));
  trainer.add_callback(std::make_shared<train::AtTrainBegin>([&](const train::Trainer&) {
    if (!o.quiet)
      fmt::print(stderr,
                 "{} on {}: {} parameters, vocabularies {} / {}, {} dev pairs; run folder {}\n",
                 o.model, corpus.name, model.num_parameters(), sv.size(), tv.size(),
                 corpus.dev.size(), out.string());
  }));
  trainer.add_callback(std::make_shared<train::ProgressLog>("tok", o.log_every, o.quiet));
  trainer.add_callback(std::make_shared<train::MetricsLog>(out, "tokens"));

  const auto batch_loss = [&](models::EncoderDecoder& m, const std::vector<data::Pair>& pairs) {
    const data::Batch b = data::make_batch(pairs, sv, tv, corpus.src_tokens, corpus.tgt_tokens);
    return train::BatchLoss{m.loss(b) / static_cast<double>(b.target_tokens), b.target_tokens};
  };
  const train::Trainer::Evaluate evaluate = [&] {
    const models::EvalResult m =
        models::evaluate(model, corpus.dev, sv, tv, corpus.src_tokens, corpus.tgt_tokens);
    train::Evaluation e{.loss = m.loss, .score = m.sequence_accuracy};
    e.metrics = {{"sequence_accuracy", m.sequence_accuracy},
                 {"token_error_rate", m.token_error_rate}};
    if (!corpus.dev_words.empty()) {  // g2p: a word is right when it matches any pronunciation
      const data::G2PScore g = models::evaluate_g2p(model, corpus.dev_words, sv, tv);
      e.score = 1.0 - g.wer;
      e.metrics.push_back({"wer", g.wer});
      e.metrics.push_back({"per", g.per});
    }
    return e;
  };
  // --data-parallel: one more instance of the model per thread, its weights those of `model`.
  const bool data_parallel = o.data_parallel && o.threads > 1;
  if (data_parallel)
    trainer.set_replicas(o.threads, [&](Generator* g) {
      return models::make_model(o.model, config.dump(), sv.size(), tv.size(), g);
    });
  const train::TrainResult r =
      data_parallel
          ? trainer.fit_data_parallel(
                [&](std::int64_t, Generator& g) -> train::Trainer::ShardLoss {
                  // Sorted by length and dealt, so that the shards get equal work.
                  std::vector<data::Pair> drawn = corpus.sample(o.batch, g, o.bucket);
                  std::stable_sort(drawn.begin(), drawn.end(), data::longer_first);
                  auto pairs = std::make_shared<const std::vector<data::Pair>>(std::move(drawn));
                  return [&batch_loss, pairs](const train::Shard& s) {
                    return batch_loss(static_cast<models::EncoderDecoder&>(s.model),
                                      s.deal(*pairs));
                  };
                },
                evaluate)
          : trainer.fit(
                [&](std::int64_t, Generator& g) {
                  return batch_loss(model, corpus.sample(o.batch, g, o.bucket));
                },
                evaluate);
  if (r.reason == train::StopReason::Interrupted) {
    fmt::print(stderr,
               "interrupted at step {}: saved {}; continue with the same command and --resume\n",
               r.progress.step, (out / "last.state.safetensors").string());
    std::exit(130);
  }
  // Samples from the held-out set, then the summary line.
  const std::vector<data::Pair> samples(
      corpus.dev.begin(), corpus.dev.begin() + std::min<std::ptrdiff_t>(3, corpus.dev.size()));
  std::vector<std::string> sources;
  for (const auto& p : samples) sources.push_back(p.source);
  const auto decoded =
      models::greedy_decode(model, sources, sv, tv, 100, corpus.src_tokens, corpus.tgt_tokens);
  for (std::size_t i = 0; i < samples.size() && !o.quiet; ++i)
    fmt::print(stderr, "  {} -> {}  (expected {})\n", samples[i].source, decoded[i],
               samples[i].target);
  nlohmann::ordered_json summary = {
      {"steps", r.progress.step},
      {"stop_reason", train::stop_reason_name(r.reason)},
      {"seconds", std::round(r.progress.seconds * 10) / 10},
      {"train_tokens_per_s",
       std::round(static_cast<double>(r.progress.items) / r.progress.seconds * 10) / 10}};
  if (r.last_evaluation) {
    summary["dev_loss"] = std::round(r.last_evaluation->loss * 1e4) / 1e4;
    for (const auto& [name, value] : r.last_evaluation->metrics)
      summary["dev_" + name] = std::round(value * 1e4) / 1e4;
  }
  summary["out"] = out.string();
  fmt::print("{}\n", summary.dump());
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand("train", "Train an encoder-decoder on a built-in task");
  CLI::Option* task =
      cmd->add_option("--task", o->task.name, "reverse, copy, sort, add, dates, or g2p (CMUdict)")
          ->capture_default_str();
  cmd->add_option("--train", o->train_file,
                  "TSV file of source<TAB>target pairs (instead of --task)")
      ->check(CLI::ExistingFile)
      ->excludes(task);
  cmd->add_option("--dev", o->dev_file, "Held-out TSV file (with --train)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--src-tokens", o->src_tokens, "Source tokens of TSV data")
      ->check(CLI::IsMember({"char", "space"}))
      ->capture_default_str();
  cmd->add_option("--tgt-tokens", o->tgt_tokens, "Target tokens of TSV data")
      ->check(CLI::IsMember({"char", "space"}))
      ->capture_default_str();
  CLI::Option* min_len =
      cmd->add_option("--min-len", o->task.min_len, "Shortest source (reverse, copy, sort)")
          ->capture_default_str();
  CLI::Option* max_len =
      cmd->add_option("--max-len", o->task.max_len,
                      "Longest source (reverse, copy, sort; add: operands of up to max-len/2 "
                      "digits)")
          ->capture_default_str();
  cmd->add_option("--model", o->model,
                  fmt::format("Model: {}", fmt::join(models::model_names(), ", ")))
      ->check(CLI::IsMember(models::model_names()))
      ->capture_default_str();
  o->model_options.add_to(*cmd);
  cmd->add_option("--batch", o->batch, "Sequences per step")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_flag("--bucket", o->bucket,
                "Draw each batch from sequences of similar source length (less padding)");
  cmd->add_option("--optim", o->optim, "Optimiser")
      ->check(CLI::IsMember({"adam", "sgd"}))
      ->capture_default_str();
  cmd->add_option("--lr", o->lr, "Learning rate")->capture_default_str();
  cmd->add_option("--schedule", o->schedule,
                  "constant; cosine: the rate decays to 0 over --steps (after --warmup steps of "
                  "linear warm-up, if given); noam: it rises linearly to --lr over --warmup steps, "
                  "then falls as 1/sqrt(step) (the Transformer's)")
      ->check(CLI::IsMember({"constant", "cosine", "noam"}))
      ->capture_default_str();
  cmd->add_option("--warmup", o->warmup,
                  "Warm-up steps (noam's 0: a tenth of --steps; cosine's 0: no warm-up)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--adam-beta2", o->adam_beta2,
                  "Adam's beta2 (0.98 in the Transformer recipe, for higher rates)")
      ->check(CLI::Range(0.0, 0.999999))
      ->capture_default_str();
  cmd->add_option("--time-limit", o->time_limit,
                  "Stop after this many seconds of training and evaluation (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--clip", o->clip, "Gradient-norm clip (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--steps", o->steps, "Training steps")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("--eval-every", o->eval_every, "Steps between dev evaluations")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("--patience", o->patience,
                  "Stop after this many evaluations without a lower dev loss (0: never)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--stop-at", o->stop_at,
                  "Stop once the dev score (sequence accuracy; g2p: 1 - WER) reaches this")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of initialisation and data")->capture_default_str();
  cmd->add_option("--threads", o->threads,
                  "Threads (OpenBLAS and seqgrad's own); results differ in the last bits between "
                  "thread counts")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_flag("--data-parallel", o->data_parallel,
                "Split each batch across the --threads threads, each with its own replica of the "
                "model (whose loops then run on that thread alone), and sum the gradients: faster "
                "than splitting each operation for small models; results differ in the last bits "
                "from the default");
  cmd->add_option("--out", o->out,
                  "Run folder (default: a fresh runs/<time>-<model>-<data>, linked as "
                  "runs/latest); a folder that holds a run is refused unless --resume");
  cmd->add_option("--nonfinite", o->nonfinite,
                  "On a NaN/Inf loss or gradient: stop (keeping the last good checkpoint) or skip "
                  "the batch")
      ->check(CLI::IsMember({"stop", "skip"}))
      ->capture_default_str();
  cmd->add_flag("--detect-anomaly", o->detect_anomaly,
                "Stop at the first NaN/Inf in forward or backward, naming the op (slow)");
  cmd->add_flag("--quiet", o->quiet, "No progress output (errors and the JSON summary only)");
  cmd->add_option("--log-every", o->log_every,
                  "Without a terminal: a progress line every N steps (0: one per evaluation)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--resume", o->resume,
                "Continue the run in --out from its last state (same options; --steps, "
                "--time-limit, --eval-every, --patience, --stop-at, --threads, --data-parallel may "
                "change)");
  cmd->callback([o, min_len, max_len] {
    o->lengths_given = min_len->count() + max_len->count() > 0;
    run_train(*o);
  });
}

}  // namespace seqgrad::cli
