#include "models/training_data.h"

#include "models/seq2seq_io.h"

namespace seqgrad::models {

std::vector<Pair> TrainingData::sample(std::int64_t n, Generator& gen) const {
  if (task) return generate_task(*task, n, gen);
  std::vector<Pair> out;
  out.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    out.push_back(train[static_cast<std::size_t>(gen.next_u64() % train.size())]);
  return out;
}

namespace {
Vocab build_side(const std::vector<Pair>& pairs, bool source, Tokens tokens) {
  std::vector<std::string> texts;
  for (const Pair& p : pairs) texts.push_back(source ? p.source : p.target);
  return Vocab::build(texts, tokens);
}
}  // namespace

TrainingData task_data(const TaskOptions& task) {
  TrainingData d;
  d.name = task.name;
  d.task = task;
  // Every token of a large sample of the task, on both sides (the reference's reversal
  // vocabulary is its 32 symbols on both sides too).
  Generator gen(7);
  std::vector<std::string> texts;
  for (const auto& p : generate_task(task, 20000, gen)) {
    texts.push_back(p.source);
    texts.push_back(p.target);
  }
  d.src_vocab = d.tgt_vocab = Vocab::build(texts, Tokens::Char);
  d.dev = held_out_set(task);
  return d;
}

TrainingData tsv_data(const std::string& train_path, const std::string& dev_path, Tokens src,
                      Tokens tgt) {
  check(!dev_path.empty(), "train: --train needs --dev (a held-out TSV file)");
  TrainingData d;
  d.name = train_path;
  d.src_tokens = src;
  d.tgt_tokens = tgt;
  d.train = read_tsv(train_path);
  d.dev = read_tsv(dev_path);
  d.src_vocab = build_side(d.train, true, src);
  d.tgt_vocab = build_side(d.train, false, tgt);
  return d;
}

TrainingData g2p_data(const std::string& dict_path) {
  const G2PData g = load_cmudict(dict_path);
  TrainingData d;
  d.name = "g2p";
  d.src_tokens = Tokens::Char;
  d.tgt_tokens = Tokens::Space;
  d.train = g2p_pairs(g.train);
  d.dev = g2p_pairs(g.dev);
  d.dev_words = g.dev;
  d.src_vocab = build_side(d.train, true, d.src_tokens);
  d.tgt_vocab = build_side(d.train, false, d.tgt_tokens);
  return d;
}

Tokens parse_tokens(const std::string& name) {
  check(name == "char" || name == "space", "unknown token kind '{}' (char, space)", name);
  return name == "char" ? Tokens::Char : Tokens::Space;
}

const char* tokens_name(Tokens t) { return t == Tokens::Char ? "char" : "space"; }

}  // namespace seqgrad::models
