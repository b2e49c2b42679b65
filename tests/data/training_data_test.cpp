// Where the trainer's batches come from: length bucketing keeps each batch within a narrow band of
// source lengths while every training pair keeps the same chance of being drawn.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "data/training_data.h"
#include "temp_file.h"

using namespace seqgrad;
using namespace seqgrad::data;
using seqgrad::testing::write_temp;

namespace {
// 2,000 pairs, 50 of each source length 1..40; the target names the line so draws can be counted.
TrainingData forty_lengths() {
  std::string train;
  for (int i = 0; i < 2000; ++i)
    train +=
        std::string(static_cast<std::size_t>(i % 40 + 1), 'a') + '\t' + std::to_string(i) + '\n';
  return tsv_data(write_temp("buckets.tsv", train), write_temp("buckets_dev.tsv", "a\t0\n"),
                  Tokens::Char, Tokens::Char);
}
}  // namespace

TEST_CASE("training data: a bucketed batch spans a narrow band of source lengths") {
  const TrainingData corpus = forty_lengths();
  Generator gen(5);
  // Batch 8: buckets of 16 * 8 = 128 pairs in length order, so at most ceil(128 / 50) + 1 = 4
  // distinct lengths per batch, 5 in the last bucket (208 pairs); unbucketed batches of 8 typically
  // have 7 or 8 lengths spread over most of 1..40.
  for (int trial = 0; trial < 200; ++trial) {
    std::set<std::size_t> lengths;
    for (const Pair& p : corpus.sample(8, gen, true)) lengths.insert(p.source.size());
    CHECK(lengths.size() <= 5);
    const std::size_t spread = *lengths.rbegin() - *lengths.begin();
    CHECK(spread <= 4);
  }
}

TEST_CASE("training data: bucketing leaves every pair equally likely") {
  const TrainingData corpus = forty_lengths();
  Generator gen(6);
  // 2,000 pairs (the last bucket holds 208, the others 128), 400,000 draws: 200 expected per pair,
  // standard deviation about 14; a pair of a short or a long bucket would be off by a factor.
  std::map<std::string, int> count;
  for (int trial = 0; trial < 50000; ++trial)
    for (const Pair& p : corpus.sample(8, gen, true)) ++count[p.target];
  REQUIRE(count.size() == 2000);
  int low = 1 << 30, high = 0;
  for (const auto& [target, n] : count) {
    low = std::min(low, n);
    high = std::max(high, n);
  }
  CHECK(low > 130);
  CHECK(high < 270);
}

TEST_CASE("training data: a bucketed task batch has one source length, all lengths occur") {
  const TrainingData corpus = task_data({"reverse", 5, 20});
  Generator gen(7);
  std::set<std::size_t> seen;
  for (int trial = 0; trial < 300; ++trial) {
    const auto batch = corpus.sample(16, gen, true);
    std::set<std::size_t> lengths;
    for (const Pair& p : batch) lengths.insert(p.source.size());
    CHECK(lengths.size() == 1);
    seen.insert(*lengths.begin());
  }
  CHECK(seen.size() == 16);  // 5..20
  CHECK(*seen.begin() == 5);
  CHECK(*seen.rbegin() == 20);
}
