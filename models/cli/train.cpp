// `seqgrad train`: trains an encoder-decoder on a built-in task, evaluates it on the fixed
// held-out set every --eval-every steps, writes metrics.csv and the best and last checkpoints to
// --out, and ends with one JSON line. Models: cho, seq2seq (any registered cell).
#include <fmt/core.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/cli/commands.h"
#include "models/cli/progress.h"
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
  std::string optim = "adam";
  double lr = 1e-3, clip = 5.0;
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
  } else if (o.model == "attention") {
    config["attention"] = o.attention > 0 ? o.attention : o.hidden;
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

// Where a run stands, saved with the optimiser so that --resume continues it exactly.
struct TrainingProgress {
  std::int64_t step = 0;
  double seconds = 0;
  std::int64_t tokens = 0;
  double best = -1;
};

void save_training_state(const std::filesystem::path& out, const optim::Optimizer& opt,
                         const Generator& gen, const TrainingProgress& st) {
  std::map<std::string, Tensor> tensors;
  for (auto& [name, t] : opt.state_dict()) tensors.emplace("optim." + name, t);
  const auto rng = gen.state();
  nlohmann::json j = {{"step", st.step},
                      {"seconds", st.seconds},
                      {"tokens", st.tokens},
                      {"best", st.best},
                      {"optimizer", opt.type_name()},
                      {"rng",
                       {std::to_string(rng[0]), std::to_string(rng[1]), std::to_string(rng[2]),
                        std::to_string(rng[3])}}};
  nn::save_safetensors((out / "last.state.safetensors").string(), tensors,
                       {{"format", "seqgrad-training-state"}, {"state", j.dump()}});
}

TrainingProgress restore(const TrainOptions& o, const models::TrainingData& data,
                         models::EncoderDecoder& model, optim::Optimizer& opt, Generator& gen) {
  const std::filesystem::path out(o.out);
  const std::string last = (out / "last.safetensors").string();
  const std::string state_path = (out / "last.state.safetensors").string();
  std::map<std::string, std::string> meta = nn::load(model, last);
  check(meta["config"] == model_config(o, data),
        "train --resume: {} was trained with config {}, this command gives {}", last,
        meta["config"], model_config(o, data));
  const nn::SafetensorsFile file = nn::load_safetensors(state_path);
  const auto j = nlohmann::json::parse(file.metadata.at("state"));
  TrainingProgress st{j.at("step").get<std::int64_t>(), j.at("seconds").get<double>(),
                      j.at("tokens").get<std::int64_t>(), j.at("best").get<double>()};
  check(std::to_string(st.step) == meta["step"],
        "train --resume: {} is at step {} but {} at step {} (interrupted between the two writes); "
        "cannot resume exactly",
        last, meta["step"], state_path, st.step);
  check(j.at("optimizer").get<std::string>() == opt.type_name(),
        "train --resume: the run used {}, this command {}", j.at("optimizer").get<std::string>(),
        opt.type_name());
  std::map<std::string, Tensor> state;
  for (const auto& [name, t] : file.tensors)
    if (name.rfind("optim.", 0) == 0) state.emplace(name.substr(6), t);
  opt.load_state_dict(state);
  std::array<std::uint64_t, 4> rng{};
  for (std::size_t i = 0; i < 4; ++i) rng[i] = std::stoull(j.at("rng")[i].get<std::string>());
  gen.set_state(rng);
  return st;
}

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
  set_num_threads(o.threads);

  const models::TrainingData data =
      !o.train_file.empty()
          ? models::tsv_data(o.train_file, o.dev_file, models::parse_tokens(o.src_tokens),
                             models::parse_tokens(o.tgt_tokens))
      : o.task.name == "g2p" ? models::g2p_data()
                             : models::task_data(o.task);
  const models::Vocab &sv = data.src_vocab, &tv = data.tgt_vocab;
  const auto& dev = data.dev;
  Generator gen(o.seed);
  const auto net = models::make_model(o.model, model_config(o, data), sv.size(), tv.size(), &gen);
  models::EncoderDecoder& model = *net;
  std::unique_ptr<optim::Optimizer> opt;
  if (o.optim == "adam")
    opt = std::make_unique<optim::Adam>(model.parameters(), optim::AdamOptions{.lr = o.lr});
  else
    opt = std::make_unique<optim::SGD>(model.parameters(), optim::SGDOptions{.lr = o.lr});
  const std::filesystem::path out(o.out);
  std::filesystem::create_directories(out);
  double seconds = 0, best = -1;
  std::int64_t tokens = 0, step = 0;
  if (o.resume) {
    const TrainingProgress st = restore(o, data, model, *opt, gen);
    step = st.step;
    seconds = st.seconds;
    tokens = st.tokens;
    best = st.best;
    fmt::print(stderr, "resuming at step {}\n", step);
  }
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
  std::ofstream csv(out / "metrics.csv");
  csv << header << "\n";
  for (const auto& row : kept_rows) csv << row << "\n";
  fmt::print(stderr, "{} on {}: {} parameters, vocabularies {} / {}, {} dev pairs\n", o.model,
             data.name, model.num_parameters(), sv.size(), tv.size(), dev.size());

  models::EvalResult dev_m;
  while (step < o.steps) {
    const std::int64_t phase = std::min(o.eval_every, o.steps - step);
    Progress bar(fmt::format("steps {}-{}", step + 1, step + phase), phase, "tok");
    double loss_sum = 0;
    std::int64_t loss_tokens = 0;
    for (std::int64_t i = 0; i < phase; ++i) {
      const models::Batch b =
          models::make_batch(data.sample(o.batch, gen), sv, tv, data.src_tokens, data.tgt_tokens);
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
    dev_m = models::evaluate(model, dev, sv, tv, data.src_tokens, data.tgt_tokens);
    if (!data.dev_words.empty()) {  // g2p: a word is right when it matches any pronunciation
      const models::G2PScore g = models::evaluate_g2p(model, data.dev_words, sv, tv);
      dev_m.sequence_accuracy = 1.0 - g.wer;
      fmt::print(stderr, "step {}: dev WER {:.2f}%, PER {:.2f}%\n", step, 100 * g.wer, 100 * g.per);
    }
    fmt::print(stderr, "step {}: dev loss {:.4f}, dev sequence accuracy {:.2f}%\n", step,
               dev_m.loss, 100 * dev_m.sequence_accuracy);
    csv << fmt::format("{},{:.3f},{:.6f},{:.1f},{:.6f},{:.4f}\n", step, seconds,
                       loss_sum / static_cast<double>(loss_tokens),
                       static_cast<double>(tokens) / seconds, dev_m.loss, dev_m.sequence_accuracy);
    csv.flush();
    const auto meta = checkpoint_metadata(o, data, step);
    if (dev_m.sequence_accuracy > best) best = dev_m.sequence_accuracy;
    // The optimiser and RNG state first, then the parameters: last.safetensors stays loadable by
    // the reference scripts (parameters only), and resume checks both carry the same step.
    save_training_state(out, *opt, gen, {step, seconds, tokens, best});
    nn::save(model, (out / "last.safetensors").string(), meta);
    if (dev_m.sequence_accuracy >= best) nn::save(model, (out / "best.safetensors").string(), meta);
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
      step, seconds, static_cast<double>(tokens) / seconds, dev_m.loss, dev_m.sequence_accuracy);
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
  cmd->add_option("--dropout", o->dropout, "seq2seq: dropout between layers")
      ->capture_default_str();
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
  cmd->add_flag(
      "--resume", o->resume,
      "Continue the run in --out from its last checkpoint (same options; --steps may grow)");
  cmd->callback([o] { run_train(*o); });
}

}  // namespace seqgrad::cli
