// `seqgrad eval`, `seqgrad translate` and `seqgrad info`: what can be done with a checkpoint.
#include <fmt/core.h>

#include <poll.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "data/tasks.h"
#include "data/training_data.h"
#include "data/tsv.h"
#include "models/evaluate.h"
#include "models/seq2seq_io.h"
#include "train/training_state.h"

namespace seqgrad::cli {

namespace {

struct EvalOptions {
  std::string checkpoint, data, task;
  std::int64_t min_len = 0, max_len = 0;  // 0: the checkpoint's training range
  int beam = 1;
  std::string by_length;  // a CSV file of accuracy per source length ("-": stderr)
  std::string data_dir = "/usr/share/datasets/fashion-mnist";  // an image classifier's test set
  int threads = default_threads();
};

// Source tokens of `pairs` the vocabulary does not know (read as <unk>): said on stderr, and an
// error when the data shares no token with it at all (the wrong vocabulary, or the wrong data).
void check_vocabulary(const std::vector<data::Pair>& pairs, const data::Vocab& vocab,
                      data::Tokens tokens, const std::string& what) {
  std::int64_t total = 0, unknown = 0;
  for (const data::Pair& p : pairs)
    for (const std::string& t : data::tokenize(p.source, tokens)) {
      ++total;
      unknown += vocab.id(t) == data::kUnk ? 1 : 0;
    }
  check(total == 0 || unknown < total,
        "eval: none of the {} source tokens of {} is in the checkpoint's vocabulary: was it "
        "trained on other data?",
        total, what);
  if (unknown > 0)
    fmt::print(stderr,
               "eval: {} of {} source tokens of {} are not in the checkpoint's vocabulary "
               "(read as <unk>)\n",
               unknown, total, what);
}

// How the checkpoint's data was tokenised (the reference scripts' checkpoints: characters).
std::pair<data::Tokens, data::Tokens> token_kinds(const models::LoadedModel& m) {
  const auto config = nlohmann::json::parse(m.config_json);
  return {data::parse_tokens(config.value("src_tokens", std::string("char"))),
          data::parse_tokens(config.value("tgt_tokens", std::string("char")))};
}

void run_eval(const EvalOptions& o) {
  set_num_threads(o.threads);
  const nn::SafetensorsFile file = nn::load_safetensors(o.checkpoint);
  if (is_image_classifier(file)) {
    check(o.data.empty() && o.task.empty(),
          "eval: {} is an image classifier: it is scored on the test images of --data-dir "
          "(--data and --task are for encoder-decoders)",
          o.checkpoint);
    return eval_image_classifier(file, o.checkpoint, o.data_dir);
  }
  check(o.data.empty() != o.task.empty(),
        "eval: give exactly one of --data FILE.tsv or --task NAME (g2p: the test split)");
  const models::LoadedModel m = models::load_model(file, o.checkpoint);
  const auto [src_tokens, tgt_tokens] = token_kinds(m);
  const auto config = nlohmann::json::parse(m.config_json);
  // A built-in task's held-out set only means something for a model trained on that task.
  const std::string trained_on = config.value("task", std::string());
  check(o.task.empty() || trained_on.empty() || trained_on == o.task,
        "eval: {} was trained on '{}', not on the task '{}' (to score it on other data, give "
        "--data FILE.tsv)",
        o.checkpoint, trained_on, o.task);
  std::vector<data::Pair> pairs;
  std::vector<data::G2PEntry> words;
  if (o.task == "g2p") {
    words = data::load_cmudict(data::kCmudictPath).test;
    pairs = data::g2p_pairs(words);
  } else if (!o.data.empty()) {
    pairs = data::read_tsv(o.data);
    check_vocabulary(pairs, m.src_vocab, src_tokens, o.data);
  } else {
    data::TaskOptions task{o.task, 5, 20};
    task.min_len = o.min_len > 0 ? o.min_len : config.value("min_len", std::int64_t{5});
    task.max_len = o.max_len > 0 ? o.max_len : config.value("max_len", std::int64_t{20});
    pairs = data::held_out_set(task);
  }
  const models::EvalResult r =
      models::evaluate(*m.net, pairs, m.src_vocab, m.tgt_vocab, src_tokens, tgt_tokens, o.beam);
  fmt::print(stderr, "{} sequences, {} target tokens\n", pairs.size(), r.tokens);
  if (!o.by_length.empty()) {  // the CSV to its own file; stdout keeps the JSON line alone
    std::string csv = "source_length,sequences,sequence_accuracy\n";
    for (const auto& [len, counts] : r.by_length)
      csv += fmt::format("{},{},{:.4f}\n", len, counts.first,
                         static_cast<double>(counts.second) / static_cast<double>(counts.first));
    if (o.by_length == "-") {
      fmt::print(stderr, "{}", csv);
    } else {
      std::ofstream out(o.by_length, std::ios::trunc);
      out << csv;
      check(out.good(), "eval: cannot write {}", o.by_length);
    }
  }
  std::string g2p;
  if (!words.empty()) {
    const data::G2PScore g = models::evaluate_g2p(*m.net, words, m.src_vocab, m.tgt_vocab, o.beam);
    g2p = fmt::format(", \"words\": {}, \"wer\": {:.4f}, \"per\": {:.4f}", g.words, g.wer, g.per);
  }
  fmt::print(
      "{{\"loss\": {:.6f}, \"tokens\": {}, \"sequence_accuracy\": {:.4f}, "
      "\"token_error_rate\": {:.4f}, \"bleu\": {:.4f}, \"chrf\": {:.4f}{}}}\n",
      r.loss, r.tokens, r.sequence_accuracy, r.token_error_rate, r.bleu, r.chrf, g2p);
}

void run_translate(const std::string& checkpoint, std::int64_t max_len, std::int64_t beam) {
  const models::LoadedModel m = models::load_model(checkpoint);
  const auto tokens = token_kinds(m);
  // Each line is answered as soon as it is read; lines that are already waiting (a file or a
  // pipe) are decoded together, up to 64 at a time.
  std::ios::sync_with_stdio(false);
  std::vector<std::string> lines;
  auto flush = [&] {
    if (lines.empty()) return;
    for (const auto& out : models::greedy_decode(*m.net, lines, m.src_vocab, m.tgt_vocab, max_len,
                                                 tokens.first, tokens.second, beam))
      std::cout << out << "\n";
    std::cout.flush();
    lines.clear();
  };
  auto input_waiting = [] {
    if (std::cin.rdbuf()->in_avail() > 0) return true;
    pollfd fd{STDIN_FILENO, POLLIN, 0};
    return poll(&fd, 1, 0) > 0;
  };
  for (std::string line; std::getline(std::cin, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    if (lines.size() == 64 || !input_waiting()) flush();
  }
  flush();
}

// A training state (OUT/last.state.safetensors) holds no vocabulary, so it gets its own summary.
void print_training_state(const train::TrainingStateSummary& s) {
  fmt::print(
      "training state (for `seqgrad train --resume`)\noptions     {}\noptimizer   {}\nstep        "
      "{}\nseconds     {:.1f} in training steps, {:.1f} in all\nitems       {}\nbest score  {}\n"
      "best loss   {}\ntensors     {} parameter tensors ({} values), {} optimizer tensors\n",
      s.config.dump(), s.optimizer, s.progress.step, s.progress.seconds, s.progress.wall_seconds,
      s.progress.items,
      std::isfinite(s.progress.best_score) ? fmt::format("{:.4f}", s.progress.best_score)
                                           : std::string("none yet"),
      std::isfinite(s.progress.best_loss) ? fmt::format("{:.4f}", s.progress.best_loss)
                                          : std::string("none yet"),
      s.parameter_tensors, s.parameters, s.optimizer_tensors);
}

void run_info(const std::string& checkpoint) {
  const nn::SafetensorsFile file = nn::load_safetensors(checkpoint);  // read once for either kind
  if (const auto state = train::summarize_training_state(file, checkpoint))
    return print_training_state(*state);
  const models::LoadedModel m = models::load_model(file, checkpoint);
  fmt::print(
      "model       {}\nconfig      {}\nvocabulary  {} source, {} target tokens\nstep        {}\n",
      m.model, m.config_json, m.src_vocab.size(), m.tgt_vocab.size(), m.step);
  fmt::print("\n{:<24} {:>16} {:>10}\n", "parameter", "shape", "count");
  for (const auto& [name, p] : m.net->named_parameters())
    fmt::print("{:<24} {:>16} {:>10}\n", name, fmt::format("{}", p.shape()), p.numel());
  fmt::print("{:<24} {:>16} {:>10}\n", "total", "", m.net->num_parameters());
}

}  // namespace

void add_eval_commands(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* eval = app.add_subcommand("eval", "Evaluate a checkpoint on a TSV file or a task");
  eval->add_option("--checkpoint", o->checkpoint, "A .safetensors checkpoint")->required();
  eval->add_option("--data", o->data, "TSV file of source<TAB>target pairs");
  eval->add_option("--task", o->task, "Built-in task: its fixed held-out set of 1,000");
  eval->add_option("--min-len", o->min_len, "Task source lengths (default: as trained)");
  eval->add_option("--max-len", o->max_len, "Task source lengths (default: as trained)");
  eval->add_option("--beam", o->beam, "Beam size (1: greedy)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  eval->add_option("--data-dir", o->data_dir,
                   "An image classifier's (seqgrad classify) test images: the IDX files' folder")
      ->capture_default_str();
  eval->add_option("--by-length", o->by_length,
                   "Also write the accuracy per source length as CSV to this file (-: stderr)");
  eval->add_option("--threads", o->threads, "Threads")->capture_default_str();
  eval->callback([o] { run_eval(*o); });

  auto checkpoint = std::make_shared<std::string>();
  auto max_len = std::make_shared<std::int64_t>(100);
  CLI::App* translate =
      app.add_subcommand("translate", "Decode source lines from stdin, one output per line");
  translate->add_option("--checkpoint", *checkpoint, "A .safetensors checkpoint")->required();
  translate->add_option("--max-output-len", *max_len, "Longest output, in tokens")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  auto beam = std::make_shared<std::int64_t>(1);
  translate->add_option("--beam", *beam, "Beam size (1: greedy)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  translate->callback([checkpoint, max_len, beam] { run_translate(*checkpoint, *max_len, *beam); });

  auto info_checkpoint = std::make_shared<std::string>();
  CLI::App* info = app.add_subcommand(
      "info", "Show a checkpoint's config and parameters (or a training state's progress)");
  info->add_option("--checkpoint", *info_checkpoint,
                   "A .safetensors checkpoint, or a run's last.state.safetensors")
      ->required();
  info->callback([info_checkpoint] { run_info(*info_checkpoint); });
}

}  // namespace seqgrad::cli
