// TSV files of source<TAB>target pairs, the data format of `seqgrad train --train/--dev` and
// `seqgrad eval --data`.
#pragma once

#include <string>
#include <vector>

#include "data/seq2seq_batch.h"

namespace seqgrad::data {

// One `source<TAB>target` per line; empty lines are skipped. A line without exactly one tab is an
// error naming `path` and the line number; so is a file that cannot be read or holds no pairs.
std::vector<Pair> read_tsv(const std::string& path);

}  // namespace seqgrad::data
