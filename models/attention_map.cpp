#include "models/attention_map.h"

namespace seqgrad::models {

void check_attention_choice(const char* op, const AttentionLayout& layout,
                            const AttentionChoice& which) {
  check(layout.layers > 0 && layout.heads > 0, "{}: the model has no attention over the source",
        op);
  check(which.layer >= 0 && which.layer < layout.layers,
        "{}: attention layer {} does not exist: the model has {} (0..{})", op, which.layer,
        layout.layers, layout.layers - 1);
  check(!which.head || (*which.head >= 0 && *which.head < layout.heads),
        "{}: attention head {} does not exist: the model has {} (0..{})", op,
        which.head.value_or(-1), layout.heads, layout.heads - 1);
}

Tensor EncoderDecoder::decode_step_attention(DecoderState& /*state*/, const Tensor& /*y*/,
                                             const AttentionChoice& /*which*/,
                                             Tensor& /*weights*/) {
  fail("decode_step_attention: the model {} has no attention over the source", type_name());
}

std::vector<AttentionMap> greedy_attention(EncoderDecoder& model, const Tensor& src,
                                           const std::vector<std::int64_t>& src_len,
                                           std::int64_t max_len, const AttentionChoice& which) {
  check_attention_choice("greedy_attention", model.attention_layout(), which);
  check(src.dim() == 2 && static_cast<std::int64_t>(src_len.size()) == src.size(0),
        "greedy_attention: expected src [B, S] and B lengths, got {} and {} lengths", src.shape(),
        src_len.size());
  NoGradGuard no_grad;
  const GemmPackingScope packing;
  const bool was_training = model.is_training();
  model.eval();
  const std::int64_t B = src.size(0), S = src.size(1);
  EncoderDecoder::DecoderState state = model.start_decoding(src, src_len);
  Tensor y = full({B}, static_cast<double>(data::kBos), kInt64);
  std::vector<AttentionMap> maps(static_cast<std::size_t>(B));
  std::vector<std::vector<float>> rows(static_cast<std::size_t>(B));
  std::int64_t live = B;
  std::vector<bool> ended(static_cast<std::size_t>(B), false);
  for (std::int64_t t = 0; t < max_len && live > 0; ++t) {
    Tensor w;
    y = argmax(model.decode_step_attention(state, y, which, w), 1).contiguous();
    check(w.defined() && w.dim() == 2 && w.size(0) == B && w.size(1) == S,
          "greedy_attention: the model's step gave attention weights {}, expected [{}, {}]",
          w.defined() ? w.shape() : Dims{}, B, S);
    const std::vector<float> step = w.to(kFloat32).contiguous().to_vector<float>();
    const auto* ids = y.data<std::int64_t>();
    for (std::int64_t b = 0; b < B; ++b) {
      const auto i = static_cast<std::size_t>(b);
      if (ended[i]) continue;
      maps[i].ids.push_back(ids[b]);
      const auto row = step.begin() + b * S;
      rows[i].insert(rows[i].end(), row, row + src_len[i]);
      if (ids[b] == data::kEos) {
        ended[i] = true;
        --live;
      }
    }
  }
  for (std::size_t i = 0; i < maps.size(); ++i)
    maps[i].weights =
        from_vector(rows[i], {static_cast<std::int64_t>(maps[i].ids.size()), src_len[i]});
  model.train(was_training);
  return maps;
}

}  // namespace seqgrad::models
