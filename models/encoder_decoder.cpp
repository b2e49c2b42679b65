#include "models/encoder_decoder.h"

namespace seqgrad::models {

TargetPositions target_positions(const Tensor& gold_bt) {
  check(gold_bt.dim() == 2 && gold_bt.dtype() == kInt64,
        "target_positions: gold must be int64 [B, T], got {} {}", gold_bt.dtype(), gold_bt.shape());
  const std::int64_t B = gold_bt.size(0), T = gold_bt.size(1);
  const Tensor gold = gold_bt.t().contiguous();  // time-major like the decoder states
  const auto* g = gold.data<std::int64_t>();
  TargetPositions p;
  p.lengths.assign(static_cast<std::size_t>(B), 0);
  std::vector<std::int64_t> index, sequence, ids;
  for (std::int64_t i = 0; i < T * B; ++i)
    if (g[i] != kPad) {
      index.push_back(i);
      sequence.push_back(i % B);
      ids.push_back(g[i]);
      p.lengths[static_cast<std::size_t>(i % B)] = i / B + 1;
    }
  const auto n = static_cast<std::int64_t>(index.size());
  p.index = from_vector(index, {n});
  p.sequence = from_vector(sequence, {n});
  p.gold = from_vector(ids, {n});
  return p;
}

}  // namespace seqgrad::models
