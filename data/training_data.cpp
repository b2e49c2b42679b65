#include "data/training_data.h"

#include <algorithm>
#include <numeric>

#include "data/tsv.h"

namespace seqgrad::data {

namespace {
bool has_length_range(const TaskOptions& t) {
  return t.name == "reverse" || t.name == "copy" || t.name == "sort";
}
}  // namespace

std::vector<Pair> TrainingData::sample(std::int64_t n, Generator& gen, bool bucket) const {
  if (task) {
    if (!bucket || !has_length_range(*task)) return generate_task(*task, n, gen);
    TaskOptions one_length = *task;
    const auto range = static_cast<std::uint64_t>(task->max_len - task->min_len + 1);
    one_length.min_len = one_length.max_len =
        task->min_len + static_cast<std::int64_t>(gen.next_u64() % range);
    return generate_task(one_length, n, gen);
  }
  check(!train.empty(), "train: the training data is empty");
  std::vector<Pair> out;
  out.reserve(static_cast<std::size_t>(n));
  if (!bucket || by_length.size() != train.size()) {
    for (std::int64_t i = 0; i < n; ++i)
      out.push_back(train[static_cast<std::size_t>(gen.next_u64() % train.size())]);
    return out;
  }
  // Buckets are consecutive runs of `size` pairs in length order; the last absorbs the rest.
  // Drawing a position uniformly picks a bucket with probability proportional to its size, so
  // each pair is drawn with probability 1/N, as without buckets.
  const std::size_t N = train.size(), size = std::min(N, static_cast<std::size_t>(16 * n));
  const std::size_t buckets = N / size, first_pos = gen.next_u64() % N;
  const std::size_t b = std::min(first_pos / size, buckets - 1);
  const std::size_t begin = b * size, end = b + 1 == buckets ? N : begin + size;
  out.push_back(train[by_length[first_pos]]);
  for (std::int64_t i = 1; i < n; ++i)
    out.push_back(train[by_length[begin + gen.next_u64() % (end - begin)]]);
  return out;
}

namespace {
std::vector<std::size_t> sort_by_source_length(const std::vector<Pair>& pairs) {
  std::vector<std::size_t> order(pairs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  Generator gen(11);  // a fixed order among equal lengths: buckets mix words of the same length
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[gen.next_u64() % i]);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return pairs[a].source.size() < pairs[b].source.size();
  });
  return order;
}

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
  d.by_length = sort_by_source_length(d.train);
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
  d.by_length = sort_by_source_length(d.train);
  return d;
}

Tokens parse_tokens(const std::string& name) {
  check(name == "char" || name == "space", "unknown token kind '{}' (char, space)", name);
  return name == "char" ? Tokens::Char : Tokens::Space;
}

const char* tokens_name(Tokens t) { return t == Tokens::Char ? "char" : "space"; }

}  // namespace seqgrad::data
