// `seqgrad train`: trains an encoder-decoder on a built-in task, evaluates it on the fixed
// held-out set every --eval-every steps, writes metrics.csv and the best and last checkpoints to
// --out, and ends with one JSON line. (This session: the cho model on the synthetic tasks.)
#include <fmt/core.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/cho.h"
#include "models/cli/commands.h"
#include "models/cli/progress.h"
#include "models/evaluate.h"
#include "models/tasks.h"
#include "optim/all.h"

namespace seqgrad::cli {

namespace {

struct TrainOptions {
  models::TaskOptions task;
  std::string model = "cho";
  std::int64_t emb = 64, hidden = 256, maxout = 128;
  std::int64_t batch = 64;
  std::string optim = "adam";
  double lr = 1e-3, clip = 5.0;
  std::int64_t steps = 2000, eval_every = 200;
  double stop_at = 0.0;  // stop once dev sequence accuracy reaches this (0: never)
  std::uint64_t seed = 0;
  int threads = 1;
  std::string out = "runs/latest";
};

// The vocabulary of a synthetic task: every token of a large sample of it.
models::Vocab task_vocab(const models::TaskOptions& task) {
  Generator gen(7);
  std::vector<std::string> texts;
  for (const auto& p : models::generate_task(task, 20000, gen)) {
    texts.push_back(p.source);
    texts.push_back(p.target);
  }
  return models::Vocab::build(texts, models::Tokens::Char);
}

std::map<std::string, std::string> checkpoint_metadata(const TrainOptions& o,
                                                       const models::Vocab& vocab,
                                                       std::int64_t step) {
  const nlohmann::json config = {{"emb", o.emb},
                                 {"hidden", o.hidden},
                                 {"maxout", o.maxout},
                                 {"tokens", "char"},
                                 {"task", o.task.name},
                                 {"min_len", o.task.min_len},
                                 {"max_len", o.task.max_len}};
  const nlohmann::json tokens = vocab.tokens();
  return {{"format", "seqgrad-checkpoint"}, {"model", o.model},
          {"config", config.dump()},        {"src_vocab", tokens.dump()},
          {"tgt_vocab", tokens.dump()},     {"step", std::to_string(step)}};
}

void run_train(const TrainOptions& o) {
  check(o.model == "cho", "train: unknown --model '{}' (available: cho)", o.model);
  check(o.emb >= 1 && o.emb <= 4096 && o.hidden >= 1 && o.hidden <= 8192 && o.maxout >= 1 &&
            o.maxout <= 8192,
        "train: sizes out of range (--emb {} --hidden {} --maxout {})", o.emb, o.hidden, o.maxout);
  check(o.batch >= 1 && o.batch <= 100000, "train: --batch must be 1..100000, got {}", o.batch);
  check(o.lr > 0 && std::isfinite(o.lr), "train: --lr must be positive, got {}", o.lr);
  check(o.steps >= 1 && o.eval_every >= 1, "train: --steps and --eval-every must be positive");
  check(o.threads >= 1 && o.threads <= 256, "train: --threads must be 1..256, got {}", o.threads);
  check(o.optim == "adam" || o.optim == "sgd", "train: unknown --optim '{}' (adam, sgd)", o.optim);
  set_num_threads(o.threads);

  const models::Vocab vocab = task_vocab(o.task);
  const auto dev = models::held_out_set(o.task);
  Generator gen(o.seed);
  models::Cho model({vocab.size(), vocab.size(), o.emb, o.hidden, o.maxout}, &gen);
  std::unique_ptr<optim::Optimizer> opt;
  if (o.optim == "adam")
    opt = std::make_unique<optim::Adam>(model.parameters(), optim::AdamOptions{.lr = o.lr});
  else
    opt = std::make_unique<optim::SGD>(model.parameters(), optim::SGDOptions{.lr = o.lr});
  std::filesystem::create_directories(o.out);
  std::ofstream csv(std::filesystem::path(o.out) / "metrics.csv");
  csv << "step,train_seconds,train_loss,train_tokens_per_s,dev_loss,dev_sequence_accuracy\n";
  fmt::print(stderr, "{} on {} ({}..{}), {} parameters, vocabulary {}\n", o.model, o.task.name,
             o.task.min_len, o.task.max_len, model.num_parameters(), vocab.size());

  double seconds = 0, best = -1;
  std::int64_t tokens = 0, step = 0;
  models::EvalResult dev_m;
  while (step < o.steps) {
    const std::int64_t phase = std::min(o.eval_every, o.steps - step);
    Progress bar(fmt::format("steps {}-{}", step + 1, step + phase), phase, "tok");
    double loss_sum = 0;
    std::int64_t loss_tokens = 0;
    for (std::int64_t i = 0; i < phase; ++i) {
      const models::Batch b =
          models::make_batch(models::generate_task(o.task, o.batch, gen), vocab, vocab);
      const Variable nll = model.loss(b);
      opt->zero_grad();
      (nll / static_cast<double>(b.target_tokens)).backward();
      if (o.clip > 0) optim::clip_grad_norm_(model.parameters(), o.clip);
      opt->step();
      loss_sum += nll.item();
      loss_tokens += b.target_tokens;
      bar.update(i + 1, b.target_tokens,
                 fmt::format("loss {:.4f}", loss_sum / static_cast<double>(loss_tokens)));
    }
    step += phase;
    seconds += bar.seconds();
    tokens += loss_tokens;
    bar.finish(fmt::format("loss {:.4f}", loss_sum / static_cast<double>(loss_tokens)));
    dev_m = models::evaluate(model, dev, vocab, vocab);
    fmt::print(stderr, "step {}: dev loss {:.4f}, dev sequence accuracy {:.2f}%\n", step,
               dev_m.loss, 100 * dev_m.sequence_accuracy);
    csv << fmt::format("{},{:.3f},{:.6f},{:.1f},{:.6f},{:.4f}\n", step, seconds,
                       loss_sum / static_cast<double>(loss_tokens),
                       static_cast<double>(tokens) / seconds, dev_m.loss, dev_m.sequence_accuracy);
    csv.flush();
    const auto meta = checkpoint_metadata(o, vocab, step);
    nn::save(model, (std::filesystem::path(o.out) / "last.safetensors").string(), meta);
    if (dev_m.sequence_accuracy > best) {
      best = dev_m.sequence_accuracy;
      nn::save(model, (std::filesystem::path(o.out) / "best.safetensors").string(), meta);
    }
    if (o.stop_at > 0 && dev_m.sequence_accuracy >= o.stop_at) break;
  }
  // Samples from the held-out set, then the summary line.
  const models::Batch sample = models::make_batch({dev.begin(), dev.begin() + 3}, vocab, vocab);
  const Tensor out = model.greedy(sample.src, sample.src_len, sample.gold.size(1) + 5);
  for (std::int64_t b = 0; b < 3; ++b) {
    std::string decoded;
    for (std::int64_t t = 0; t < out.size(1); ++t) {
      const auto id = static_cast<std::int64_t>(out.select(0, b).select(0, t).item());
      if (id == models::kEos) break;
      decoded += vocab.token(id);
    }
    fmt::print(stderr, "  {} -> {}  (expected {})\n", dev[static_cast<std::size_t>(b)].source,
               decoded, dev[static_cast<std::size_t>(b)].target);
  }
  fmt::print(
      "{{\"steps\": {}, \"seconds\": {:.1f}, \"train_tokens_per_s\": {:.1f}, \"dev_loss\": {:.4f}, "
      "\"dev_sequence_accuracy\": {:.4f}}}\n",
      step, seconds, static_cast<double>(tokens) / seconds, dev_m.loss, dev_m.sequence_accuracy);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand("train", "Train an encoder-decoder on a built-in task");
  cmd->add_option("--task", o->task.name, "reverse, copy, sort, add or dates")
      ->capture_default_str();
  cmd->add_option("--min-len", o->task.min_len, "Shortest source (reverse, copy, sort)")
      ->capture_default_str();
  cmd->add_option("--max-len", o->task.max_len, "Longest source")->capture_default_str();
  cmd->add_option("--model", o->model, "Model: cho")->capture_default_str();
  cmd->add_option("--emb", o->emb, "Embedding size")->capture_default_str();
  cmd->add_option("--hidden", o->hidden, "Hidden state size")->capture_default_str();
  cmd->add_option("--maxout", o->maxout, "Maxout units of the cho readout")->capture_default_str();
  cmd->add_option("--batch", o->batch, "Sequences per step")->capture_default_str();
  cmd->add_option("--optim", o->optim, "adam or sgd")->capture_default_str();
  cmd->add_option("--lr", o->lr, "Learning rate")->capture_default_str();
  cmd->add_option("--clip", o->clip, "Gradient-norm clip (0: none)")->capture_default_str();
  cmd->add_option("--steps", o->steps, "Training steps")->capture_default_str();
  cmd->add_option("--eval-every", o->eval_every, "Steps between dev evaluations")
      ->capture_default_str();
  cmd->add_option("--stop-at", o->stop_at, "Stop once dev sequence accuracy reaches this")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of initialisation and data")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads (OpenBLAS and seqgrad's own)")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Folder for metrics.csv and checkpoints")->capture_default_str();
  cmd->callback([o] { run_train(*o); });
}

}  // namespace seqgrad::cli
