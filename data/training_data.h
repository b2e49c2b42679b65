// Where `seqgrad train` gets its data: a built-in task (batches generated on the fly from the
// seed), a pair of TSV files, or g2p (CMUdict). Each gives vocabularies, a dev set, and batches.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "data/g2p.h"
#include "data/tasks.h"

namespace seqgrad::data {

struct TrainingData {
  std::string name;  // the task, "g2p", or the training file
  Tokens src_tokens = Tokens::Char, tgt_tokens = Tokens::Char;
  Vocab src_vocab, tgt_vocab;
  std::optional<TaskOptions> task;  // built-in task: training pairs are generated
  std::vector<Pair> train;          // otherwise: training pairs, sampled with replacement
  std::vector<Pair> dev;
  std::vector<G2PEntry> dev_words;  // g2p: the dev words with all their pronunciations

  // Training pair indices sorted by source length (ties in a fixed random order): the
  // buckets of sample(..., bucket = true). Filled by tsv_data and g2p_data.
  std::vector<std::size_t> by_length;

  // n training pairs drawn with gen, uniformly with replacement. With `bucket`, all n come from
  // one bucket of sequences of similar source length (less padding, so less wasted work per
  // batch) while every pair keeps the same chance of being drawn: a generated task draws one
  // length for the whole batch; a data set draws a pair uniformly, takes the bucket of 16n
  // neighbours in length order that holds it, and draws the rest from that bucket.
  std::vector<Pair> sample(std::int64_t n, Generator& gen, bool bucket = false) const;
};

TrainingData task_data(const TaskOptions& task);
// Vocabularies from the training file; a dev file is required (the metrics need one).
TrainingData tsv_data(const std::string& train_path, const std::string& dev_path, Tokens src,
                      Tokens tgt);
// Letters in, space-separated phones out; dev = the dev split (docs/data.md).
TrainingData g2p_data(const std::string& dict_path = kCmudictPath);

Tokens parse_tokens(const std::string& name);  // "char" or "space"
const char* tokens_name(Tokens t);

}  // namespace seqgrad::data
