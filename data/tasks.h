// The built-in synthetic tasks: source/target pairs generated from a seed, needing no files.
//   reverse  "abc"        -> "cba"          (32 symbols a-z A-F, as ../shared/reference/cho.py)
//   copy     "abc"        -> "abc"
//   sort     "cab"        -> "abc"
//   add      "123+45"     -> "168"          (operands of 1 .. max_len/2 digits)
//   dates    "3 March 2021", "March 3, 2021", "03/03/2021", "Wed 3 Mar 2021" -> "2021-03-03"
// --min-len/--max-len give the source length range for reverse, copy and sort.
#pragma once

#include <string>
#include <vector>

#include "data/seq2seq_batch.h"

namespace seqgrad::data {

struct TaskOptions {
  std::string name = "reverse";
  std::int64_t min_len = 5, max_len = 20;
};

std::vector<std::string> task_names();
// n pairs drawn with `gen`; throws Error for an unknown task or a bad length range.
std::vector<Pair> generate_task(const TaskOptions& task, std::int64_t n, Generator& gen);
// The fixed held-out set: 1,000 pairs from their own seed, whatever the training seed.
std::vector<Pair> held_out_set(const TaskOptions& task, std::int64_t n = 1000);

}  // namespace seqgrad::data
