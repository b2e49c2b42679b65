// Levenshtein distance between token sequences: the token error rate of `seqgrad eval` and the
// phone error rate of g2p.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace seqgrad::data {

std::int64_t edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b);

}  // namespace seqgrad::data
