// The attention weights behind `translate --show-attention` (models/attention_map.h) are the ones
// the models used:
// - Bahdanau's attention: each step's weights equal softmax_j(v . tanh(W_q s_{t-1} + U_k h_j))
//   worked out by hand in double from the step's inputs; rows sum to 1 over the real source
//   tokens and are 0 on the padding; the step's log-probabilities are decode_step's;
// - the Transformer: the weights of a chosen decoder layer and head (or their mean) equal
//   softmax(q k^T / sqrt(dk)) worked out by hand from that layer's own projections of the
//   teacher-forced input, pre- and post-LN; the log-probabilities are decode_step's;
// - greedy_attention decodes what greedy does, one row of weights per output token;
// - models without attention, and layers or heads a model does not have, are refused.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>

#include "models/attention.h"
#include "models/attention_map.h"
#include "models/cho.h"
#include "models/transformer.h"

using namespace seqgrad;
using namespace seqgrad::models;
using namespace seqgrad::data;

namespace attention_map_test {

std::vector<double> values_of(const Tensor& t) {
  return t.to(kFloat64).contiguous().to_vector<double>();
}

EncoderDecoder::DecoderState cloned(const EncoderDecoder::DecoderState& s) {
  EncoderDecoder::DecoderState out;
  for (const Tensor& t : s) out.push_back(t.clone());
  return out;
}

// Softmax of scores[0 .. n) in double, zeros to `width`.
std::vector<double> softmax_prefix(const std::vector<double>& scores, std::int64_t n,
                                   std::int64_t width) {
  std::vector<double> p(static_cast<std::size_t>(width), 0.0);
  double top = -INFINITY, total = 0;
  for (std::int64_t j = 0; j < n; ++j) top = std::max(top, scores[static_cast<std::size_t>(j)]);
  for (std::int64_t j = 0; j < n; ++j)
    total += p[static_cast<std::size_t>(j)] = std::exp(scores[static_cast<std::size_t>(j)] - top);
  for (std::int64_t j = 0; j < n; ++j) p[static_cast<std::size_t>(j)] /= total;
  return p;
}

// Every row of w [N, S] sums to 1 over its first lengths[r] entries and is 0 after them.
void expect_distributions(const Tensor& w, const std::vector<std::int64_t>& lengths) {
  REQUIRE(w.dim() == 2);
  const std::vector<double> v = values_of(w);
  const std::int64_t S = w.size(1);
  for (std::int64_t r = 0; r < w.size(0); ++r) {
    CAPTURE(r);
    double total = 0;
    for (std::int64_t j = 0; j < S; ++j) {
      const double x = v[static_cast<std::size_t>(r * S + j)];
      CHECK(x >= 0);
      if (j < lengths[static_cast<std::size_t>(r)])
        total += x;
      else
        CHECK(x == 0);
    }
    CHECK(total == doctest::Approx(1).epsilon(1e-5));
  }
}

const Vocab& vocab() {
  static const Vocab v = Vocab::build({"abcdefg"}, Tokens::Char);
  return v;
}

}  // namespace attention_map_test

using namespace attention_map_test;

TEST_CASE("attention map: Bahdanau's weights are the step's softmax, worked out by hand") {
  Generator gen(11);
  Attention model(AttentionConfig{vocab().size(), vocab().size(), 5, 6, 4}, &gen);
  model.eval();
  const Batch b = make_batch({{"abcdefg", ""}, {"ba", ""}, {"gfc", ""}}, vocab(), vocab());
  const std::int64_t B = 3, S = b.src.size(1), H = 6, A = 4;
  const std::vector<double> wq = values_of(model.attn_query->weight.value());  // [A, H]
  const std::vector<double> v = values_of(model.attn_v->weight.value());       // [1, A]
  auto state = model.start_decoding(b.src, b.src_len);
  Tensor y = full({B}, static_cast<double>(kBos), kInt64);
  for (int t = 0; t < 4; ++t) {
    CAPTURE(t);
    // The step's inputs: keys U_k h_j + b [B, S, A] and s_{t-1} [B, H].
    const std::vector<double> keys = values_of(state[1]), s = values_of(state[3]);
    EncoderDecoder::DecoderState plain = cloned(state);
    Tensor w;
    const Tensor log_probs = model.decode_step_attention(state, y, {}, w);
    REQUIRE(w.shape() == Dims{B, S});
    expect_distributions(w, b.src_len);
    const std::vector<double> got = values_of(w);
    for (std::int64_t r = 0; r < B; ++r) {
      std::vector<double> scores(static_cast<std::size_t>(S));
      for (std::int64_t j = 0; j < S; ++j) {
        double e = 0;
        for (std::int64_t a = 0; a < A; ++a) {
          double q = 0;
          for (std::int64_t k = 0; k < H; ++k)
            q += wq[static_cast<std::size_t>(a * H + k)] * s[static_cast<std::size_t>(r * H + k)];
          e += v[static_cast<std::size_t>(a)] *
               std::tanh(keys[static_cast<std::size_t>((r * S + j) * A + a)] + q);
        }
        scores[static_cast<std::size_t>(j)] = e;
      }
      const std::vector<double> want =
          softmax_prefix(scores, b.src_len[static_cast<std::size_t>(r)], S);
      for (std::int64_t j = 0; j < S; ++j)
        CHECK(got[static_cast<std::size_t>(r * S + j)] ==
              doctest::Approx(want[static_cast<std::size_t>(j)]).epsilon(1e-5));
    }
    // The same step without the weights: the same log-probabilities and the same next state.
    CHECK(amax(abs(model.decode_step(plain, y) - log_probs)).item() == 0);
    CHECK(amax(abs(plain[3] - state[3])).item() == 0);
    y = argmax(log_probs, 1).contiguous();
  }
}

TEST_CASE("attention map: greedy_attention decodes what greedy does, a row per output token") {
  Generator gen(12);
  Attention model(AttentionConfig{vocab().size(), vocab().size(), 5, 6, 4}, &gen);
  const Batch b = make_batch({{"abcdefg", ""}, {"ba", ""}, {"gfc", ""}}, vocab(), vocab());
  const std::int64_t max_len = 9;
  const Tensor greedy = model.greedy(b.src, b.src_len, max_len);
  const std::vector<AttentionMap> maps = greedy_attention(model, b.src, b.src_len, max_len, {});
  REQUIRE(maps.size() == 3);
  for (std::size_t r = 0; r < maps.size(); ++r) {
    CAPTURE(r);
    const AttentionMap& m = maps[r];
    const auto row = greedy.select(0, static_cast<std::int64_t>(r)).contiguous();
    const std::vector<std::int64_t> ids = row.to_vector<std::int64_t>();
    // The greedy output up to and including its EOS (or all max_len tokens).
    std::vector<std::int64_t> want;
    for (const std::int64_t id : ids) {
      want.push_back(id);
      if (id == kEos) break;
    }
    CHECK(m.ids == want);
    REQUIRE(m.weights.shape() == Dims{static_cast<std::int64_t>(m.ids.size()), b.src_len[r]});
    expect_distributions(m.weights, std::vector<std::int64_t>(m.ids.size(), b.src_len[r]));
  }
  CHECK(model.is_training());  // the mode it was in
}

TEST_CASE("attention map: the Transformer's cross-attention weights of a layer and head") {
  for (const bool norm_first : {true, false}) {
    CAPTURE(norm_first);
    Generator gen(13);
    TransformerConfig c;
    c.src_vocab = vocab().size();
    c.tgt_vocab = vocab().size();
    c.d_model = 8;
    c.heads = 2;
    c.layers = 3;
    c.ffn = 12;
    c.norm_first = norm_first;
    Transformer model(c, &gen);
    model.eval();
    CHECK(model.attention_layout().layers == 3);
    CHECK(model.attention_layout().heads == 2);
    const Batch b = make_batch({{"abcdefg", ""}, {"cb", ""}}, vocab(), vocab());
    const std::int64_t D = 8, dk = 4, S = b.src.size(1), steps = 5;
    for (const std::int64_t layer : {0, 2})
      for (const std::optional<std::int64_t> head :
           {std::optional<std::int64_t>(), std::optional<std::int64_t>(1)}) {
        CAPTURE(layer);
        CAPTURE(head.value_or(-1));
        const AttentionChoice which{layer, head};
        // Decoding step by step, keeping the weights; the log-probabilities are decode_step's.
        auto state = model.start_decoding(b.src, b.src_len);
        Tensor y = full({2}, static_cast<double>(kBos), kInt64);
        std::vector<Tensor> recorded;
        std::vector<Tensor> inputs;  // y of each step: the teacher-forced prev
        for (std::int64_t t = 0; t < steps; ++t) {
          EncoderDecoder::DecoderState plain = cloned(state);
          Tensor w;
          const Tensor lp = model.decode_step_attention(state, y, which, w);
          REQUIRE(w.shape() == Dims{2, S});
          expect_distributions(w, b.src_len);
          CHECK(amax(abs(model.decode_step(plain, y) - lp)).item() == 0);
          recorded.push_back(w);
          inputs.push_back(y);
          y = argmax(lp, 1).contiguous();
        }
        // By hand, from the teacher-forced pass over the same prev: the input h of the layer's
        // cross attention, q = h W_q^T + b_q, k = memory W_k^T + b_k, per head
        // softmax(q k^T / sqrt(dk)) over the real source tokens.
        NoGradGuard no_grad;
        const Tensor prev = stack(inputs, 1);  // [2, steps]
        const std::vector<std::int64_t> tgt_len = {steps, steps};
        const Variable memory = model.encode(b.src, b.src_len);
        Variable x = model.tgt_embed->forward(prev) * std::sqrt(static_cast<double>(D)) +
                     Variable(nn::sinusoidal_positions(steps, D));
        for (std::int64_t k = 0; k < layer; ++k)
          x = (*model.decoder->layers)[static_cast<std::size_t>(k)].forward(x, tgt_len, memory,
                                                                            b.src_len);
        auto& l = (*model.decoder->layers)[static_cast<std::size_t>(layer)];
        const nn::functional::AttentionMask causal{tgt_len, true};
        const Variable h =
            norm_first
                ? l.norm2->forward(x + l.self_attn->self_attention(l.norm1->forward(x), causal))
                : l.norm1->forward(x + l.self_attn->self_attention(x, causal));
        const std::vector<double> hv = values_of(h.value()), mv = values_of(memory.value());
        const std::vector<double> W = values_of(l.multihead_attn->in_proj_weight.value());
        const std::vector<double> bias = values_of(l.multihead_attn->in_proj_bias.value());
        auto project = [&](const std::vector<double>& in, std::int64_t row, std::int64_t part) {
          std::vector<double> out(static_cast<std::size_t>(D));
          for (std::int64_t o = 0; o < D; ++o) {
            double a = bias[static_cast<std::size_t>(part * D + o)];
            for (std::int64_t i = 0; i < D; ++i)
              a += W[static_cast<std::size_t>((part * D + o) * D + i)] *
                   in[static_cast<std::size_t>(row * D + i)];
            out[static_cast<std::size_t>(o)] = a;
          }
          return out;
        };
        for (std::int64_t r = 0; r < 2; ++r)
          for (std::int64_t t = 0; t < steps; ++t) {
            CAPTURE(r);
            CAPTURE(t);
            const std::vector<double> q = project(hv, r * steps + t, 0);
            std::vector<double> want(static_cast<std::size_t>(S), 0.0);
            for (std::int64_t hd = 0; hd < 2; ++hd) {
              if (head && *head != hd) continue;
              std::vector<double> scores(static_cast<std::size_t>(S));
              for (std::int64_t j = 0; j < S; ++j) {
                const std::vector<double> k = project(mv, r * S + j, 1);
                double e = 0;
                for (std::int64_t i = hd * dk; i < (hd + 1) * dk; ++i)
                  e += q[static_cast<std::size_t>(i)] * k[static_cast<std::size_t>(i)];
                scores[static_cast<std::size_t>(j)] = e / std::sqrt(static_cast<double>(dk));
              }
              const auto p = softmax_prefix(scores, b.src_len[static_cast<std::size_t>(r)], S);
              for (std::int64_t j = 0; j < S; ++j)
                want[static_cast<std::size_t>(j)] +=
                    p[static_cast<std::size_t>(j)] / (head ? 1 : 2);
            }
            const std::vector<double> got =
                values_of(recorded[static_cast<std::size_t>(t)].select(0, r));
            for (std::int64_t j = 0; j < S; ++j)
              CHECK(got[static_cast<std::size_t>(j)] ==
                    doctest::Approx(want[static_cast<std::size_t>(j)]).epsilon(1e-4));
          }
      }
  }
}

TEST_CASE("attention map: models without attention, and layers or heads not there, are refused") {
  Generator gen(14);
  const Batch b = make_batch({{"abc", ""}}, vocab(), vocab());
  Cho cho(ChoConfig{vocab().size(), vocab().size(), 5, 6, 3}, &gen);
  CHECK(cho.attention_layout().layers == 0);
  CHECK_THROWS_WITH(
      greedy_attention(cho, b.src, b.src_len, 5, {}),
      doctest::Contains("greedy_attention: the model has no attention over the source"));
  auto state = cho.start_decoding(b.src, b.src_len);
  Tensor w;
  CHECK_THROWS_WITH(
      cho.decode_step_attention(state, full({1}, static_cast<double>(kBos), kInt64), {}, w),
      doctest::Contains("has no attention over the source"));

  Attention attention(AttentionConfig{vocab().size(), vocab().size(), 5, 6, 4}, &gen);
  CHECK_THROWS_WITH(greedy_attention(attention, b.src, b.src_len, 5, {1, {}}),
                    doctest::Contains("attention layer 1 does not exist: the model has 1 (0..0)"));
  TransformerConfig c;
  c.src_vocab = c.tgt_vocab = vocab().size();
  c.d_model = 8;
  c.heads = 2;
  c.layers = 2;
  c.ffn = 8;
  Transformer transformer(c, &gen);
  CHECK_THROWS_WITH(greedy_attention(transformer, b.src, b.src_len, 5, {2, {}}),
                    doctest::Contains("attention layer 2 does not exist: the model has 2 (0..1)"));
  CHECK_THROWS_WITH(greedy_attention(transformer, b.src, b.src_len, 5, {1, 2}),
                    doctest::Contains("attention head 2 does not exist: the model has 2 (0..1)"));
  CHECK_THROWS_WITH(greedy_attention(transformer, b.src, b.src_len, 5, {-1, {}}),
                    doctest::Contains("attention layer -1 does not exist"));
  CHECK(greedy_attention(transformer, b.src, b.src_len, 5, {1, 0}).size() == 1);
}
