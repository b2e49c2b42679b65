// `seqgrad eval`, `seqgrad translate` and `seqgrad info`: what can be done with a checkpoint.
#include <fmt/core.h>

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.h"
#include "cli/svg_heatmap.h"
#include "data/tasks.h"
#include "data/training_data.h"
#include "data/tsv.h"
#include "models/attention_map.h"
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
  std::string g2p;
  data::G2PScore g;
  if (!words.empty()) {
    g = models::evaluate_g2p(*m.net, words, m.src_vocab, m.tgt_vocab, o.beam);
    g2p = fmt::format(", \"words\": {}, \"wer\": {:.4f}, \"per\": {:.4f}", g.words, g.wer, g.per);
  }
  if (!o.by_length.empty()) {  // the CSV to its own file; stdout keeps the JSON line alone
    std::string csv;
    if (words.empty()) {
      csv = "source_length,sequences,sequence_accuracy\n";
      for (const auto& [len, counts] : r.by_length)
        csv += fmt::format("{},{},{:.4f}\n", len, counts.first,
                           static_cast<double>(counts.second) / static_cast<double>(counts.first));
    } else {  // g2p: per word, any of its pronunciations counts (sequences = words)
      csv = "source_length,sequences,sequence_accuracy,wer,per\n";
      for (const auto& [len, c] : g.by_length) {
        const double wer = static_cast<double>(c.wrong) / static_cast<double>(c.words);
        csv += fmt::format("{},{},{:.4f},{:.4f},{:.4f}\n", len, c.words, 1.0 - wer, wer,
                           static_cast<double>(c.phone_errors) /
                               static_cast<double>(std::max<std::int64_t>(c.phones, 1)));
      }
    }
    if (o.by_length == "-") {
      fmt::print(stderr, "{}", csv);
    } else {
      std::ofstream out(o.by_length, std::ios::trunc);
      out << csv;
      check(out.good(), "eval: cannot write {}", o.by_length);
    }
  }
  fmt::print(
      "{{\"loss\": {:.6f}, \"tokens\": {}, \"sequence_accuracy\": {:.4f}, "
      "\"token_error_rate\": {:.4f}, \"bleu\": {:.4f}, \"chrf\": {:.4f}{}}}\n",
      r.loss, r.tokens, r.sequence_accuracy, r.token_error_rate, r.bleu, r.chrf, g2p);
}

struct TranslateOptions {
  std::string checkpoint;
  std::int64_t max_len = 100, beam = 1;
  std::string show_attention;  // a heatmap of each line's attention weights (SVG)
  std::int64_t attention_layer = 0, attention_head = 0;
  bool layer_given = false, head_given = false;
};

// The file of line n's heatmap: FILE.svg for the first line, FILE-2.svg, FILE-3.svg, ... after.
std::string numbered_file(const std::string& path, std::int64_t n) {
  if (n == 1) return path;
  const std::size_t slash = path.find_last_of('/');
  const std::size_t dot = path.find_last_of('.');
  const bool extension =
      dot != std::string::npos && (slash == std::string::npos || dot > slash + 1);
  return extension ? fmt::format("{}-{}{}", path.substr(0, dot), n, path.substr(dot))
                   : fmt::format("{}-{}", path, n);
}

// What --show-attention draws for the model, its options checked against the model's attention.
models::AttentionChoice attention_choice(const TranslateOptions& o, const models::LoadedModel& m) {
  const models::AttentionLayout layout = m.net->attention_layout();
  check(layout.layers > 0 && layout.heads > 0,
        "translate: --show-attention: the '{}' model of {} has no attention over the source to "
        "show",
        m.model, o.checkpoint);
  check(o.beam == 1,
        "translate: --show-attention draws greedy decoding, not a beam search: drop --beam {}",
        o.beam);
  check(!o.layer_given || (o.attention_layer >= 0 && o.attention_layer < layout.layers),
        "translate: --attention-layer {}: the '{}' model has {} attention layer(s), numbered 0 "
        "to {}",
        o.attention_layer, m.model, layout.layers, layout.layers - 1);
  check(!o.head_given || (o.attention_head >= 0 && o.attention_head < layout.heads),
        "translate: --attention-head {}: the '{}' model has {} attention head(s), numbered 0 to {}",
        o.attention_head, m.model, layout.heads, layout.heads - 1);
  models::AttentionChoice which{o.layer_given ? o.attention_layer : layout.layers - 1, {}};
  if (o.head_given) which.head = o.attention_head;
  return which;
}

std::string heatmap_title(const models::LoadedModel& m, const models::AttentionChoice& which) {
  const models::AttentionLayout layout = m.net->attention_layout();
  std::string title = fmt::format("Attention weights of the {} model", m.model);
  if (layout.layers > 1)
    title += fmt::format(", layer {} (of 0-{})", which.layer, layout.layers - 1);
  if (layout.heads > 1)
    title += which.head ? fmt::format(", head {} (of 0-{})", *which.head, layout.heads - 1)
                        : fmt::format(", mean of {} heads", layout.heads);
  return title;
}

// A token as a label: a space (a character of char-tokenised text) made visible.
std::string label(const std::string& token) { return token == " " ? "\u2423" : token; }

// The heatmap of one line: its source tokens (and EOS) across, the output tokens down.
plot::Heatmap attention_heatmap(const std::string& line, const models::AttentionMap& map,
                                const models::LoadedModel& m, data::Tokens src_tokens,
                                const std::string& title) {
  plot::Heatmap h{title, "source tokens", "output tokens", {}, {}, {}};
  std::vector<std::string> source = data::tokenize(line, src_tokens);
  source.push_back(m.src_vocab.token(data::kEos));
  const std::int64_t S = map.weights.size(1);
  if (static_cast<std::int64_t>(source.size()) != S)
    source.assign(static_cast<std::size_t>(S), "?");
  for (const std::string& t : source) h.columns.push_back(label(t));
  for (const std::int64_t id : map.ids) h.rows.push_back(label(m.tgt_vocab.token(id)));
  const Tensor w = map.weights.to(kFloat64).contiguous();
  h.values = w.to_vector<double>();
  return h;
}

void run_translate(const TranslateOptions& o) {
  const models::LoadedModel m = models::load_model(o.checkpoint);
  const auto tokens = token_kinds(m);
  check(!o.show_attention.empty() || (!o.layer_given && !o.head_given),
        "translate: --attention-layer and --attention-head choose what --show-attention draws: "
        "give --show-attention FILE.svg too");
  std::optional<models::AttentionChoice> which;
  if (!o.show_attention.empty()) which = attention_choice(o, m);
  const std::string title = which ? heatmap_title(m, *which) : std::string();
  // Each line is answered as soon as it is read; lines that are already waiting (a file or a
  // pipe) are decoded together, up to 64 at a time.
  std::ios::sync_with_stdio(false);
  std::vector<std::string> lines;
  std::int64_t line_number = 0;
  // With --show-attention: greedy decoding that keeps the weights, a heatmap per line written
  // before its translation is printed.
  auto decode_with_attention = [&] {
    std::vector<data::Pair> pairs;
    for (const std::string& l : lines) pairs.push_back({l, ""});
    const data::Batch b =
        data::make_batch(pairs, m.src_vocab, m.tgt_vocab, tokens.first, tokens.second);
    std::vector<std::string> out;
    const auto maps = models::greedy_attention(*m.net, b.src, b.src_len, o.max_len, *which);
    for (std::size_t i = 0; i < maps.size(); ++i) {
      const std::string file = numbered_file(o.show_attention, ++line_number);
      std::ofstream svg(file, std::ios::trunc);
      svg << plot::heatmap_svg(attention_heatmap(lines[i], maps[i], m, tokens.first, title));
      svg.close();
      check(svg.good(), "translate: cannot write {}", file);
      fmt::print(stderr, "translate: the attention weights of line {} are in {}\n", line_number,
                 file);
      std::vector<std::string> pieces;
      for (const std::int64_t id : maps[i].ids)
        if (id != data::kEos) pieces.push_back(m.tgt_vocab.token(id));
      out.push_back(data::detokenize(pieces, tokens.second));
    }
    return out;
  };
  auto flush = [&] {
    if (lines.empty()) return;
    const std::vector<std::string> outputs =
        which ? decode_with_attention()
              : models::greedy_decode(*m.net, lines, m.src_vocab, m.tgt_vocab, o.max_len,
                                      tokens.first, tokens.second, o.beam);
    for (const auto& out : outputs) std::cout << out << "\n";
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
                   "Also write the accuracy per source length as CSV to this file (-: stderr); "
                   "--task g2p: per word length, with its WER and PER");
  eval->add_option("--threads", o->threads, "Threads")->capture_default_str();
  eval->callback([o] { run_eval(*o); });

  auto t = std::make_shared<TranslateOptions>();
  CLI::App* translate =
      app.add_subcommand("translate", "Decode source lines from stdin, one output per line");
  translate->add_option("--checkpoint", t->checkpoint, "A .safetensors checkpoint")->required();
  translate->add_option("--max-output-len", t->max_len, "Longest output, in tokens")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  translate->add_option("--beam", t->beam, "Beam size (1: greedy)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  translate->add_option("--show-attention", t->show_attention,
                        "Also draw each line's attention weights as a heatmap (SVG): FILE.svg for "
                        "the first line, FILE-2.svg, FILE-3.svg, ... for the next (models with "
                        "attention; greedy decoding)");
  CLI::Option* layer = translate->add_option(
      "--attention-layer", t->attention_layer,
      "With --show-attention, the layer whose attention to draw, from 0 (default: the last)");
  CLI::Option* head = translate->add_option(
      "--attention-head", t->attention_head,
      "With --show-attention, the head to draw, from 0 (default: the mean over the heads)");
  translate->callback([t, layer, head] {
    t->layer_given = layer->count() > 0;
    t->head_given = head->count() > 0;
    run_translate(*t);
  });

  auto info_checkpoint = std::make_shared<std::string>();
  CLI::App* info = app.add_subcommand(
      "info", "Show a checkpoint's config and parameters (or a training state's progress)");
  info->add_option("--checkpoint", *info_checkpoint,
                   "A .safetensors checkpoint, or a run's last.state.safetensors")
      ->required();
  info->callback([info_checkpoint] { run_info(*info_checkpoint); });
}

}  // namespace seqgrad::cli
