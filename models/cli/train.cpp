// `seqgrad train`: trains an encoder-decoder (cho, seq2seq with any registered cell, attention) on
// a built-in task, TSV files or g2p; evaluates on the dev set every --eval-every steps; writes
// metrics.csv, the best and last checkpoints and the training state to --out; ends with one JSON
// line. Crash safety: the state that --resume reads is one atomically written file; SIGINT or
// SIGTERM saves it and exits with 130; a non-finite loss or gradient never reaches a checkpoint.
#include <fmt/core.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "models/cli/commands.h"
#include "models/cli/progress.h"
#include "models/cli/training_state.h"
#include "models/evaluate.h"
#include "models/seq2seq_io.h"
#include "models/tasks.h"
#include "models/training_data.h"
#include "optim/all.h"

namespace seqgrad::cli {

namespace {

struct TrainOptions {
  models::TaskOptions task;
  std::string train_file, dev_file;  // instead of a task
  std::string src_tokens = "char", tgt_tokens = "char";
  std::string model = "cho";
  std::string cell = "lstm";  // seq2seq
  std::int64_t layers = 2;    // seq2seq
  bool reverse_source = false;
  double dropout = 0.0;
  std::int64_t emb = 64, hidden = 256, maxout = 128;
  std::int64_t attention = 0;  // attention: size of the scoring layer (0: = hidden)
  std::int64_t batch = 64;
  bool bucket = false;  // batches of similar source length
  std::string optim = "adam";
  std::string schedule = "constant";  // or cosine: lr decays to 0 over --steps
  double lr = 1e-3, clip = 5.0;
  double time_limit = 0;           // stop after this many training seconds (0: no limit)
  std::string nonfinite = "stop";  // a NaN/Inf loss or gradient: stop, or skip the batch
  bool detect_anomaly = false;     // name the op that made the first NaN/Inf (slow)
  std::int64_t steps = 2000, eval_every = 200;
  double stop_at = 0.0;  // stop once dev sequence accuracy reaches this (0: never)
  std::uint64_t seed = 0;
  int threads = 1;
  std::string out = "runs/latest";
  bool resume = false;
};

// The checkpoint's "config": the keys the reference scripts read, plus the task it was trained on.
std::string model_config(const TrainOptions& o, const models::TrainingData& data) {
  nlohmann::json config = {{"emb", o.emb},
                           {"hidden", o.hidden},
                           {"tokens", "char"},
                           {"src_tokens", models::tokens_name(data.src_tokens)},
                           {"tgt_tokens", models::tokens_name(data.tgt_tokens)},
                           {"task", data.name}};
  if (data.task) {
    config["min_len"] = data.task->min_len;
    config["max_len"] = data.task->max_len;
  }
  if (o.model == "cho") {
    config["maxout"] = o.maxout;
    if (o.dropout > 0) config["dropout"] = o.dropout;
  } else if (o.model == "attention") {
    config["attention"] = o.attention > 0 ? o.attention : o.hidden;
    if (o.dropout > 0) config["dropout"] = o.dropout;
  } else {
    config["cell"] = o.cell;
    config["layers"] = o.layers;
    config["reverse_source"] = o.reverse_source;
    config["dropout"] = o.dropout;
  }
  return config.dump();
}

std::map<std::string, std::string> checkpoint_metadata(const TrainOptions& o,
                                                       const models::TrainingData& data,
                                                       std::int64_t step) {
  const nlohmann::json src = data.src_vocab.tokens(), tgt = data.tgt_vocab.tokens();
  return {{"format", "seqgrad-checkpoint"},  {"model", o.model},
          {"config", model_config(o, data)}, {"src_vocab", src.dump()},
          {"tgt_vocab", tgt.dump()},         {"step", std::to_string(step)}};
}

// Set by SIGINT/SIGTERM; the loop checks it after every step, saves and exits.
volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_interrupt(int) { interrupted = 1; }

void run_train(const TrainOptions& o) {
  check(o.model == "cho" || o.model == "seq2seq" || o.model == "attention",
        "train: unknown --model '{}' (available: cho, seq2seq, attention)", o.model);
  check(o.attention >= 0 && o.attention <= 8192, "train: --attention must be 0..8192, got {}",
        o.attention);
  check(o.layers >= 1 && o.layers <= 64, "train: --layers must be 1..64, got {}", o.layers);
  check(o.dropout >= 0 && o.dropout < 1, "train: --dropout must be in [0, 1), got {}", o.dropout);
  check(o.emb >= 1 && o.emb <= 4096 && o.hidden >= 1 && o.hidden <= 8192 && o.maxout >= 1 &&
            o.maxout <= 8192,
        "train: sizes out of range (--emb {} --hidden {} --maxout {})", o.emb, o.hidden, o.maxout);
  check(o.batch >= 1 && o.batch <= 100000, "train: --batch must be 1..100000, got {}", o.batch);
  check(o.lr > 0 && std::isfinite(o.lr), "train: --lr must be positive, got {}", o.lr);
  check(o.steps >= 1 && o.eval_every >= 1, "train: --steps and --eval-every must be positive");
  check(o.threads >= 1 && o.threads <= 256, "train: --threads must be 1..256, got {}", o.threads);
  check(o.optim == "adam" || o.optim == "sgd", "train: unknown --optim '{}' (adam, sgd)", o.optim);
  check(o.schedule == "constant" || o.schedule == "cosine",
        "train: unknown --schedule '{}' (constant, cosine)", o.schedule);
  check(o.nonfinite == "stop" || o.nonfinite == "skip",
        "train: --nonfinite must be stop or skip, got '{}'", o.nonfinite);
  check(o.time_limit >= 0 && std::isfinite(o.time_limit),
        "train: --time-limit must be >= 0 seconds, got {}", o.time_limit);
  set_num_threads(o.threads);
  AnomalyMode::set_enabled(o.detect_anomaly);

  const models::TrainingData data =
      !o.train_file.empty()
          ? models::tsv_data(o.train_file, o.dev_file, models::parse_tokens(o.src_tokens),
                             models::parse_tokens(o.tgt_tokens))
      : o.task.name == "g2p" ? models::g2p_data()
                             : models::task_data(o.task);
  const models::Vocab &sv = data.src_vocab, &tv = data.tgt_vocab;
  const auto& dev = data.dev;
  Generator gen(o.seed);
  const std::string config = model_config(o, data);
  const auto net = models::make_model(o.model, config, sv.size(), tv.size(), &gen);
  models::EncoderDecoder& model = *net;
  std::unique_ptr<optim::Optimizer> opt;
  if (o.optim == "adam")
    opt = std::make_unique<optim::Adam>(model.parameters(), optim::AdamOptions{.lr = o.lr});
  else
    opt = std::make_unique<optim::SGD>(model.parameters(), optim::SGDOptions{.lr = o.lr});
  // The rate is a function of the step alone (set before every step), so --resume needs no
  // scheduler state.
  std::unique_ptr<optim::LRScheduler> schedule;
  if (o.schedule == "cosine") schedule = std::make_unique<optim::CosineAnnealingLR>(*opt, o.steps);
  const std::filesystem::path out(o.out);
  std::filesystem::create_directories(out);
  const std::filesystem::path state_file = out / "last.state.safetensors";
  TrainingProgress progress;
  if (o.resume) {
    progress = load_training_state(state_file, model, *opt, gen, config);
    fmt::print(stderr, "resuming at step {}\n", progress.step);
  }
  std::int64_t& step = progress.step;
  const std::string header =
      "step,train_seconds,train_loss,train_tokens_per_s,dev_loss,dev_sequence_accuracy";
  // On resume, rows written after the restored checkpoint (a run killed in between) are dropped.
  std::vector<std::string> kept_rows;
  if (o.resume) {
    std::ifstream old(out / "metrics.csv");
    std::string line;
    for (std::getline(old, line); std::getline(old, line);)
      if (!line.empty() && std::stoll(line.substr(0, line.find(','))) <= step)
        kept_rows.push_back(line);
  }
  {  // rewritten whole, then renamed: a crash here cannot lose the rows already logged
    std::ofstream fresh(out / "metrics.csv.tmp", std::ios::trunc);
    fresh << header << "\n";
    for (const auto& row : kept_rows) fresh << row << "\n";
    check(fresh.good(), "train: cannot write {}", (out / "metrics.csv.tmp").string());
  }
  std::filesystem::rename(out / "metrics.csv.tmp", out / "metrics.csv");
  std::ofstream csv(out / "metrics.csv", std::ios::app);
  fmt::print(stderr, "{} on {}: {} parameters, vocabularies {} / {}, {} dev pairs\n", o.model,
             data.name, model.num_parameters(), sv.size(), tv.size(), dev.size());

  // Saves the checkpoints, then the state that --resume reads, each file atomically. The state
  // goes last: a kill before it resumes from the previous state, whose phase then rewrites both
  // checkpoints; the other order could leave a finished state beside a stale last.safetensors
  // that no resumed run would rewrite.
  auto save = [&](bool evaluated_best) {
    const auto meta = checkpoint_metadata(o, data, step);
    nn::save(model, (out / "last.safetensors").string(), meta);
    if (evaluated_best) nn::save(model, (out / "best.safetensors").string(), meta);
    save_training_state(state_file, model, *opt, gen, progress, config);
  };
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  models::EvalResult dev_m;
  bool out_of_time = false;
  while (step < o.steps && !out_of_time) {
    // Phases end at multiples of --eval-every, also after a resume from an interrupted phase.
    const std::int64_t phase = std::min(o.eval_every - step % o.eval_every, o.steps - step);
    Progress bar(fmt::format("steps {}-{}", step + 1, step + phase), phase, "tok");
    double loss_sum = 0;
    std::int64_t loss_tokens = 0, done = 0;
    model.train();  // evaluation left it in eval mode
    while (done < phase && !out_of_time && !interrupted) {
      const models::Batch b = models::make_batch(data.sample(o.batch, gen, o.bucket), sv, tv,
                                                 data.src_tokens, data.tgt_tokens);
      if (schedule) opt->set_lr(schedule->lr_at(step + done));
      const Variable nll = model.loss(b);
      opt->zero_grad();
      (nll / static_cast<double>(b.target_tokens)).backward();
      const double norm = optim::clip_grad_norm_(
          model.parameters(), o.clip > 0 ? o.clip : std::numeric_limits<double>::infinity());
      const double loss = nll.item();
      if (!std::isfinite(loss) || !std::isfinite(norm)) {
        // Never step on (or save) a poisoned gradient: skip the batch, or stop with the last
        // good checkpoint in place.
        const std::string what = fmt::format(
            "train: step {}: non-finite {} ({}); ", step + done + 1,
            std::isfinite(loss) ? "gradient norm" : "loss", std::isfinite(loss) ? norm : loss);
        const std::filesystem::path last = out / "last.safetensors";
        check(o.nonfinite == "skip",
              "{}stopped; {} (try a lower --lr or --clip, or --nonfinite skip)", what,
              std::filesystem::exists(last) ? "the last good checkpoint is " + last.string()
                                            : std::string("no checkpoint was written yet"));
        fmt::print(stderr, "{}batch skipped\n", what);
      } else {
        opt->step();
        loss_sum += loss;
        loss_tokens += b.target_tokens;
      }
      ++done;
      bar.update(done, b.target_tokens,
                 fmt::format("loss {:.4f}", loss_sum / static_cast<double>(loss_tokens)));
      out_of_time = o.time_limit > 0 && progress.seconds + bar.seconds() >= o.time_limit;
    }
    step += done;
    progress.seconds += bar.seconds();
    progress.tokens += loss_tokens;
    bar.finish(fmt::format("loss {:.4f}", loss_sum / static_cast<double>(loss_tokens)));
    if (interrupted) {
      save(false);
      fmt::print(stderr,
                 "interrupted at step {}: saved {}; continue with the same command and --resume\n",
                 step, state_file.string());
      std::exit(130);
    }
    dev_m = models::evaluate(model, dev, sv, tv, data.src_tokens, data.tgt_tokens);
    if (!data.dev_words.empty()) {  // g2p: a word is right when it matches any pronunciation
      const models::G2PScore g = models::evaluate_g2p(model, data.dev_words, sv, tv);
      dev_m.sequence_accuracy = 1.0 - g.wer;
      fmt::print(stderr, "step {}: dev WER {:.2f}%, PER {:.2f}%\n", step, 100 * g.wer, 100 * g.per);
    }
    fmt::print(stderr, "step {}: dev loss {:.4f}, dev sequence accuracy {:.2f}%\n", step,
               dev_m.loss, 100 * dev_m.sequence_accuracy);
    csv << fmt::format("{},{:.3f},{:.6f},{:.1f},{:.6f},{:.4f}\n", step, progress.seconds,
                       loss_sum / static_cast<double>(loss_tokens),
                       static_cast<double>(progress.tokens) / progress.seconds, dev_m.loss,
                       dev_m.sequence_accuracy);
    csv.flush();
    const bool best = dev_m.sequence_accuracy > progress.best;
    if (best) progress.best = dev_m.sequence_accuracy;
    save(best);
    if (o.stop_at > 0 && dev_m.sequence_accuracy >= o.stop_at) break;
  }
  // Samples from the held-out set, then the summary line.
  const std::vector<models::Pair> samples(dev.begin(),
                                          dev.begin() + std::min<std::ptrdiff_t>(3, dev.size()));
  std::vector<std::string> sources;
  for (const auto& p : samples) sources.push_back(p.source);
  const auto decoded =
      models::greedy_decode(model, sources, sv, tv, 100, data.src_tokens, data.tgt_tokens);
  for (std::size_t i = 0; i < samples.size(); ++i)
    fmt::print(stderr, "  {} -> {}  (expected {})\n", samples[i].source, decoded[i],
               samples[i].target);
  fmt::print(
      "{{\"steps\": {}, \"seconds\": {:.1f}, \"train_tokens_per_s\": {:.1f}, \"dev_loss\": {:.4f}, "
      "\"dev_sequence_accuracy\": {:.4f}}}\n",
      step, progress.seconds, static_cast<double>(progress.tokens) / progress.seconds, dev_m.loss,
      dev_m.sequence_accuracy);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand("train", "Train an encoder-decoder on a built-in task");
  cmd->add_option("--task", o->task.name, "reverse, copy, sort, add, dates, or g2p (CMUdict)")
      ->capture_default_str();
  cmd->add_option("--train", o->train_file,
                  "TSV file of source<TAB>target pairs (instead of --task)");
  cmd->add_option("--dev", o->dev_file, "Held-out TSV file (with --train)");
  cmd->add_option("--src-tokens", o->src_tokens, "Source tokens of TSV data: char or space")
      ->capture_default_str();
  cmd->add_option("--tgt-tokens", o->tgt_tokens, "Target tokens of TSV data: char or space")
      ->capture_default_str();
  cmd->add_option("--min-len", o->task.min_len, "Shortest source (reverse, copy, sort)")
      ->capture_default_str();
  cmd->add_option("--max-len", o->task.max_len, "Longest source")->capture_default_str();
  cmd->add_option("--model", o->model, "Model: cho, seq2seq or attention")->capture_default_str();
  cmd->add_option("--attention", o->attention, "attention: scoring layer size (0: = --hidden)")
      ->capture_default_str();
  cmd->add_option("--cell", o->cell, "seq2seq: any registered cell (lstm, gru, rnn, mgu, ...)")
      ->capture_default_str();
  cmd->add_option("--layers", o->layers, "seq2seq: layers of encoder and decoder")
      ->capture_default_str();
  cmd->add_flag("--reverse-source", o->reverse_source, "seq2seq: read the source backwards");
  cmd->add_option("--dropout", o->dropout,
                  "Dropout in training: seq2seq between layers; cho and attention on the readout")
      ->capture_default_str();
  cmd->add_option("--emb", o->emb, "Embedding size")->capture_default_str();
  cmd->add_option("--hidden", o->hidden, "Hidden state size")->capture_default_str();
  cmd->add_option("--maxout", o->maxout, "Maxout units of the cho readout")->capture_default_str();
  cmd->add_option("--batch", o->batch, "Sequences per step")->capture_default_str();
  cmd->add_flag("--bucket", o->bucket,
                "Draw each batch from sequences of similar source length (less padding)");
  cmd->add_option("--optim", o->optim, "adam or sgd")->capture_default_str();
  cmd->add_option("--lr", o->lr, "Learning rate")->capture_default_str();
  cmd->add_option("--schedule", o->schedule,
                  "constant, or cosine: the rate decays to 0 over --steps")
      ->capture_default_str();
  cmd->add_option("--time-limit", o->time_limit,
                  "Stop after this many seconds of training (0: no limit), then evaluate")
      ->capture_default_str();
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
  cmd->add_option("--nonfinite", o->nonfinite,
                  "On a NaN/Inf loss or gradient: stop (keeping the last good checkpoint) or skip "
                  "the batch")
      ->capture_default_str();
  cmd->add_flag("--detect-anomaly", o->detect_anomaly,
                "Stop at the first NaN/Inf in forward or backward, naming the op (slow)");
  cmd->add_flag(
      "--resume", o->resume,
      "Continue the run in --out from its last checkpoint (same options; --steps may grow)");
  cmd->callback([o] { run_train(*o); });
}

}  // namespace seqgrad::cli
