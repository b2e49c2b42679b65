#include "models/encoder_decoder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

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
    if (g[i] != data::kPad) {
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

Tensor EncoderDecoder::greedy(const Tensor& src, const std::vector<std::int64_t>& src_len,
                              std::int64_t max_len) {
  NoGradGuard no_grad;
  const GemmPackingScope packing;  // every step multiplies by the same weights: pack them once
  const bool was_training = is_training();
  eval();
  DecoderState state = start_decoding(src, src_len);
  const std::int64_t B = src.size(0);
  Tensor y = full({B}, static_cast<double>(data::kBos), kInt64);
  // Stops once every row has produced EOS; the columns not decoded then stay EOS.
  Tensor out = full({B, max_len}, static_cast<double>(data::kEos), kInt64);
  std::vector<bool> ended(static_cast<std::size_t>(B), false);
  std::int64_t live = B;
  for (std::int64_t t = 0; t < max_len && live > 0; ++t) {
    y = argmax(decode_step(state, y), 1);
    out.select(1, t).copy_(y);
    const auto* ids = y.data<std::int64_t>();
    for (std::int64_t b = 0; b < B; ++b)
      if (!ended[static_cast<std::size_t>(b)] && ids[b] == data::kEos) {
        ended[static_cast<std::size_t>(b)] = true;
        --live;
      }
  }
  train(was_training);
  return out;
}

std::vector<std::vector<std::int64_t>> decode(EncoderDecoder& model, const Tensor& src,
                                              const std::vector<std::int64_t>& src_len,
                                              std::int64_t max_len, std::int64_t beam,
                                              double alpha) {
  if (beam > 1) return beam_search(model, src, src_len, beam, max_len, alpha);
  const Tensor out = model.greedy(src, src_len, max_len);
  const auto* ids = out.data<std::int64_t>();
  std::vector<std::vector<std::int64_t>> result(static_cast<std::size_t>(out.size(0)));
  for (std::int64_t i = 0; i < out.size(0); ++i)
    for (std::int64_t t = 0; t < max_len && ids[i * max_len + t] != data::kEos; ++t)
      result[static_cast<std::size_t>(i)].push_back(ids[i * max_len + t]);
  return result;
}

namespace {
struct Hypothesis {
  double score;  // summed log-probability
  std::vector<std::int64_t> tokens;
};
}  // namespace

std::vector<std::vector<std::int64_t>> beam_search(EncoderDecoder& model, const Tensor& src,
                                                   const std::vector<std::int64_t>& src_len,
                                                   std::int64_t K, std::int64_t max_len,
                                                   double alpha) {
  check(K >= 1 && K <= 1000, "beam_search: beam size must be 1..1000, got {}", K);
  NoGradGuard no_grad;
  const GemmPackingScope packing;  // every step multiplies by the same weights: pack them once
  const bool was_training = model.is_training();
  model.eval();
  const std::int64_t B = src.size(0);
  // Row b*K + k is beam k of source b; at the start all K copies hold the same state, and only
  // beam 0 is alive so that the first step does not pick K identical hypotheses.
  std::vector<std::int64_t> copy_rows;
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t k = 0; k < K; ++k) copy_rows.push_back(b);
  auto state = model.start_decoding(src, src_len);
  auto reorder = [&](const std::vector<std::int64_t>& rows) {
    const Tensor index = from_vector(rows, {static_cast<std::int64_t>(rows.size())});
    for (Tensor& t : state) t = index_select(t, 0, index);
  };
  reorder(copy_rows);
  std::vector<Hypothesis> live(static_cast<std::size_t>(B * K));
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t k = 1; k < K; ++k)
      live[static_cast<std::size_t>(b * K + k)].score = -std::numeric_limits<double>::infinity();
  std::vector<std::vector<Hypothesis>> finished(static_cast<std::size_t>(B));
  auto normalised = [alpha](const Hypothesis& h) {
    return h.score / std::pow(static_cast<double>(h.tokens.size() + 1), alpha);  // + EOS
  };
  Tensor y = full({B * K}, static_cast<double>(data::kBos), kInt64);
  for (std::int64_t t = 0; t < max_len; ++t) {
    const Tensor logp = model.decode_step(state, y).to(kFloat64).contiguous();
    const std::int64_t V = logp.size(1);
    const double* lp = logp.data<double>();
    std::vector<std::int64_t> rows, next_tokens;
    std::vector<Hypothesis> next;
    for (std::int64_t b = 0; b < B; ++b) {
      auto& done = finished[static_cast<std::size_t>(b)];
      // Candidates (score, row, token) over the K live beams of source b.
      std::vector<std::tuple<double, std::int64_t, std::int64_t>> cand;
      for (std::int64_t k = 0; k < K; ++k) {
        const std::int64_t row = b * K + k;
        const double base = live[static_cast<std::size_t>(row)].score;
        if (!std::isfinite(base)) continue;
        for (std::int64_t v = 0; v < V; ++v) cand.emplace_back(base + lp[row * V + v], row, v);
      }
      const auto keep = std::min<std::size_t>(cand.size(), static_cast<std::size_t>(2 * K));
      std::partial_sort(
          cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(keep), cand.end(),
          [](const auto& a, const auto& c) { return std::get<0>(a) > std::get<0>(c); });
      std::int64_t taken = 0;
      const bool source_done = static_cast<std::int64_t>(done.size()) >= K;
      for (std::size_t i = 0; i < keep && taken < K; ++i) {
        const auto [score, row, v] = cand[i];
        Hypothesis h{score, live[static_cast<std::size_t>(row)].tokens};
        if (v == data::kEos) {
          if (!source_done) done.push_back(std::move(h));
          continue;
        }
        h.tokens.push_back(v);
        rows.push_back(row);
        next_tokens.push_back(v);
        next.push_back(std::move(h));
        ++taken;
      }
      for (; taken < K; ++taken) {  // keep K rows per source: pad with dead beams
        rows.push_back(b * K);
        next_tokens.push_back(data::kPad);
        next.push_back({-std::numeric_limits<double>::infinity(), {}});
      }
      if (source_done)  // enough finished hypotheses: stop growing this source
        for (std::int64_t k = 0; k < K; ++k)
          next[next.size() - 1 - static_cast<std::size_t>(k)].score =
              -std::numeric_limits<double>::infinity();
    }
    live = std::move(next);
    reorder(rows);
    y = from_vector(next_tokens, {B * K});
    bool any_alive = false;
    for (const auto& h : live) any_alive = any_alive || std::isfinite(h.score);
    if (!any_alive) break;
  }
  std::vector<std::vector<std::int64_t>> out(static_cast<std::size_t>(B));
  for (std::int64_t b = 0; b < B; ++b) {
    auto& done = finished[static_cast<std::size_t>(b)];
    for (std::int64_t k = 0; k < K; ++k)  // unfinished at max_len still compete
      if (const auto& h = live[static_cast<std::size_t>(b * K + k)]; std::isfinite(h.score))
        done.push_back(h);
    if (done.empty()) continue;
    out[static_cast<std::size_t>(b)] =
        std::max_element(done.begin(), done.end(), [&](const auto& a, const auto& c) {
          return normalised(a) < normalised(c);
        })->tokens;
  }
  model.train(was_training);
  return out;
}

}  // namespace seqgrad::models

namespace seqgrad::models {

double recurrent_macs_per_token(const nn::Module& m) {
  double macs = 0;
  for (const auto& [name, p] : m.named_parameters())
    if (name.rfind("weight_ih", 0) == 0 || name.rfind("weight_hh", 0) == 0)
      macs += static_cast<double>(p.numel());
  return macs;
}

std::vector<std::int64_t> target_lengths(const Tensor& gold) {
  const Tensor g = gold.contiguous();
  const std::int64_t B = g.size(0), T = g.size(1);
  std::vector<std::int64_t> lengths(static_cast<std::size_t>(B), 0);
  for (std::int64_t r = 0; r < B; ++r)
    for (std::int64_t t = 0; t < T; ++t)
      lengths[static_cast<std::size_t>(r)] += g.data<std::int64_t>()[r * T + t] != data::kPad;
  return lengths;
}

}  // namespace seqgrad::models
