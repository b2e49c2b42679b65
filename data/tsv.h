// TSV files of source<TAB>target pairs, the data format of `seqgrad train --train/--dev` and
// `seqgrad eval --data`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "data/seq2seq_batch.h"

namespace seqgrad::data {

// One `source<TAB>target` per line; empty lines are skipped. A line without exactly one tab, or
// that is not valid UTF-8, is an error naming `path` and the line number; so is a file that
// cannot be read or holds no pairs.
std::vector<Pair> read_tsv(const std::string& path);

// The offset of the first byte of `text` that does not belong to a valid UTF-8 sequence (RFC 3629:
// no overlong forms, surrogates or code points above U+10FFFF), or npos when it is all valid.
std::size_t invalid_utf8_at(std::string_view text);

}  // namespace seqgrad::data
