#include "models/transformer.h"

#include <cmath>

#include "models/encoder_choice.h"
#include "models/registry.h"

namespace seqgrad::models {

namespace F = nn::functional;

namespace {
// The keys of transformer.py's checkpoint config, plus the training-only options.
const RegisterModel<Transformer, TransformerConfig> transformer_registration(
    "transformer",
    "Vaswani et al. (2017): PyTorch's nn.Transformer with sinusoidal positions, as "
    "../shared/reference/transformer.py",
    ConfigFields<TransformerConfig>()
        .add("d_model", &TransformerConfig::d_model, "Width of every layer (divisible by heads)", 1,
             65536)
        .add("heads", &TransformerConfig::heads, "Attention heads", 1, 4096)
        .add("layers", &TransformerConfig::layers, "Layers of the encoder and of the decoder", 1,
             1024)
        .add("ffn", &TransformerConfig::ffn, "Width of the feed-forward layers", 1, 1 << 20)
        .add("norm_first", &TransformerConfig::norm_first,
             "LayerNorm before each block (pre-LN); --norm-first=false: after it (post-LN)")
        .add("dropout", &TransformerConfig::dropout,
             "Dropout in training, on the embeddings and inside every layer", 0, 0.999)
        .optional()
        .add("label_smoothing", &TransformerConfig::label_smoothing,
             "Label smoothing of the training loss", 0, 0.999)
        .optional()
        .add("max_positions", &TransformerConfig::max_positions, kMaxPositionsHelp, 1, 1 << 20)
        .optional()
        .add("embed_init", &TransformerConfig::embed_init,
             "Initial embeddings: scaled (N(0, 1/d_model): times sqrt(d_model) they match the "
             "positions' scale) or pytorch (nn.Embedding's N(0, 1), as the reference)")
        .optional());

nn::TransformerLayerConfig layer_config(const TransformerConfig& c, Generator* gen) {
  return {c.d_model, c.heads, c.ffn, c.dropout, c.norm_first, kFloat32, gen};
}
}  // namespace

Transformer::Transformer(const TransformerConfig& c, Generator* gen)
    : EncoderDecoder("Transformer"), config_(c), gen_(gen) {
  check(c.src_vocab > data::kUnk && c.tgt_vocab > data::kUnk,
        "Transformer: vocabularies must hold the 4 specials, got src_vocab={} tgt_vocab={}",
        c.src_vocab, c.tgt_vocab);
  check(c.d_model >= 1 && c.heads >= 1 && c.d_model % c.heads == 0,
        "Transformer: heads ({}) must divide d_model ({})", c.heads, c.d_model);
  check(c.layers >= 1 && c.ffn >= 1 && c.max_positions >= 1,
        "Transformer: layers, ffn and max_positions must be positive, got layers={} ffn={} "
        "max_positions={}",
        c.layers, c.ffn, c.max_positions);
  check(c.dropout >= 0 && c.dropout < 1 && c.label_smoothing >= 0 && c.label_smoothing < 1,
        "Transformer: dropout and label_smoothing must be in [0, 1), got {} and {}", c.dropout,
        c.label_smoothing);
  check(c.embed_init == "scaled" || c.embed_init == "pytorch",
        "Transformer: unknown embed_init '{}', expected scaled or pytorch", c.embed_init);
  // Registration order = the reference's state_dict order.
  src_embed = register_module(
      "src_embed",
      std::make_shared<nn::Embedding>(c.src_vocab, c.d_model, std::nullopt, kFloat32, gen));
  tgt_embed = register_module(
      "tgt_embed",
      std::make_shared<nn::Embedding>(c.tgt_vocab, c.d_model, std::nullopt, kFloat32, gen));
  encoder = register_module(
      "encoder", std::make_shared<nn::TransformerEncoder>(layer_config(c, gen), c.layers));
  decoder = register_module(
      "decoder", std::make_shared<nn::TransformerDecoder>(layer_config(c, gen), c.layers));
  output = register_module(
      "output", std::make_shared<nn::Linear>(c.d_model, c.tgt_vocab, true, kFloat32, gen));
  // nn.Transformer._reset_parameters: every matrix of the core is xavier_uniform_.
  for (nn::Module* core :
       {static_cast<nn::Module*>(encoder.get()), static_cast<nn::Module*>(decoder.get())})
    for (const Variable& p : core->parameters())
      if (p.dim() > 1) nn::init::xavier_uniform_(p.value(), 1.0, gen);
  if (c.embed_init == "scaled")
    for (nn::Embedding* table : {src_embed.get(), tgt_embed.get()})
      nn::init::normal_(table->weight.value(), 0.0, 1.0 / std::sqrt(static_cast<double>(c.d_model)),
                        gen);
  positions_ = nn::sinusoidal_positions(c.max_positions, c.d_model);
}

Variable Transformer::embed(nn::Embedding& table, const Tensor& ids, std::int64_t first) {
  check(ids.dim() == 2 && ids.dtype() == kInt64,
        "Transformer: token ids must be int64 [B, T], got {} {}", ids.dtype(), ids.shape());
  const std::int64_t T = ids.size(1);
  check(first + T <= config_.max_positions,
        "Transformer: a sequence of {} tokens is longer than the position table ({}; raise "
        "--max-positions)",
        first + T, config_.max_positions);
  const Variable x = table.forward(ids) * std::sqrt(static_cast<double>(config_.d_model)) +
                     Variable(positions_.narrow(0, first, T));
  return F::dropout(x, config_.dropout, is_training(), gen_);
}

Variable Transformer::encode(const Tensor& src, const std::vector<std::int64_t>& src_len) {
  return encoder->forward(embed(*src_embed, src), src_len);
}

Variable Transformer::decode(const Variable& memory, const std::vector<std::int64_t>& src_len,
                             const Tensor& prev, const std::vector<std::int64_t>& tgt_len) {
  return decoder->forward(embed(*tgt_embed, prev), tgt_len, memory, src_len);
}

// embed(ids) * sqrt(D) + P[t] for the real positions of ids [B, T] (row b's first lengths[b]),
// as packed rows [N, D]: row b's positions after those of rows before it, no padding.
Variable Transformer::embed_rows(nn::Embedding& table, const Tensor& ids,
                                 const std::vector<std::int64_t>& lengths) {
  check(ids.dim() == 2 && ids.dtype() == kInt64 &&
            static_cast<std::int64_t>(lengths.size()) == ids.size(0),
        "Transformer: token ids must be int64 [B, T] with B lengths, got {} {} and {} lengths",
        ids.dtype(), ids.shape(), lengths.size());
  const std::int64_t T = ids.size(1);
  const Tensor all = ids.contiguous();
  const auto* id = all.data<std::int64_t>();
  std::vector<std::int64_t> tokens, positions;
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    check(lengths[b] >= 0 && lengths[b] <= T, "Transformer: length {} of row {} is outside [0, {}]",
          lengths[b], b, T);
    check(lengths[b] <= config_.max_positions,
          "Transformer: a sequence of {} tokens is longer than the position table ({}; raise "
          "--max-positions)",
          lengths[b], config_.max_positions);
    for (std::int64_t t = 0; t < lengths[b]; ++t) {
      tokens.push_back(id[static_cast<std::int64_t>(b) * T + t]);
      positions.push_back(t);
    }
  }
  const auto n = static_cast<std::int64_t>(tokens.size());
  const Variable x =
      table.forward(from_vector(tokens, {n})) * std::sqrt(static_cast<double>(config_.d_model)) +
      Variable(index_select(positions_, 0, from_vector(positions, {n})));
  return F::dropout(x, config_.dropout, is_training(), gen_);
}

// Training runs on packed rows (nn/transformer.h): the encoder and decoder never compute a padded
// position, and the decoder's rows are exactly the real target positions, in the order of the
// gold ids below.
Variable Transformer::loss(const data::Batch& batch) {
  const std::int64_t B = batch.gold.size(0), T = batch.gold.size(1);
  const Tensor gold = batch.gold.contiguous();
  const auto* g = gold.data<std::int64_t>();
  std::vector<std::int64_t> ids, tgt_len(static_cast<std::size_t>(B), 0);
  for (std::int64_t b = 0; b < B; ++b) {
    std::int64_t& len = tgt_len[static_cast<std::size_t>(b)];
    while (len < T && g[b * T + len] != data::kPad) ids.push_back(g[b * T + len++]);
    for (std::int64_t t = len; t < T; ++t)
      check(g[b * T + t] == data::kPad,
            "Transformer::loss: row {} of the gold targets has a token after padding (at {})", b,
            t);
  }
  const auto n = static_cast<std::int64_t>(ids.size());
  const Variable memory =
      encoder->forward(embed_rows(*src_embed, batch.src, batch.src_len), batch.src_len);
  const Variable h =
      decoder->forward(embed_rows(*tgt_embed, batch.prev, tgt_len), tgt_len, memory, batch.src_len);
  return F::cross_entropy(output->forward(h), from_vector(ids, {n}), F::Reduction::Sum, -100,
                          is_training() ? config_.label_smoothing : 0.0);
}

// State rows: {source lengths int64 [N]; per decoder layer, its self-attention's keys and values
// so far [N, t, D] and its cross attention's keys and values of the memory [N, S, D]}.
EncoderDecoder::DecoderState Transformer::start_decoding(const Tensor& src,
                                                         const std::vector<std::int64_t>& src_len) {
  NoGradGuard no_grad;
  const Tensor memory = encode(src, src_len).value();
  const std::int64_t N = src.size(0);
  DecoderState state{from_vector(src_len, {N})};
  for (auto& layer : *decoder->layers) {
    const nn::KeyValueCache m = layer->multihead_attn->memory_keys_values(memory);
    state.push_back(Tensor::empty({N, 0, config_.d_model}, kFloat32));
    state.push_back(Tensor::empty({N, 0, config_.d_model}, kFloat32));
    state.push_back(m.k);
    state.push_back(m.v);
  }
  return state;
}

Tensor Transformer::decode_step(DecoderState& state, const Tensor& y) {
  return step(state, y, nullptr, nullptr);
}

Tensor Transformer::decode_step_attention(DecoderState& state, const Tensor& y,
                                          const AttentionChoice& which, Tensor& weights) {
  check_attention_choice("Transformer::decode_step_attention", attention_layout(), which);
  return step(state, y, &which, &weights);
}

// One position through every decoder layer, each extending its self-attention cache; with
// `which`, the chosen layer's cross-attention weights [N, S] (one head, or their mean) go to
// `weights` (only that layer computes them: plain decoding pays nothing).
Tensor Transformer::step(DecoderState& state, const Tensor& y, const AttentionChoice* which,
                         Tensor* weights) {
  NoGradGuard no_grad;
  const std::vector<std::int64_t> src_len = state[0].contiguous().to_vector<std::int64_t>();
  const std::int64_t t = state[1].size(1);                      // positions decoded so far
  Tensor x = embed(*tgt_embed, y.reshape({-1, 1}), t).value();  // [N, 1, D]
  std::size_t i = 1;
  std::int64_t k = 0;
  for (auto& layer : *decoder->layers) {
    nn::KeyValueCache self{state[i], state[i + 1]};
    const bool chosen = which != nullptr && k == which->layer;
    Tensor w;  // [N, H, 1, S]
    x = layer->step(x, self, {state[i + 2], state[i + 3]}, src_len, chosen ? &w : nullptr);
    if (chosen)
      *weights = (which->head ? w.select(1, *which->head) : mean(w, {1})).select(1, 0).contiguous();
    state[i] = self.k;
    state[i + 1] = self.v;
    i += 4;
    ++k;
  }
  const Variable h = decoder->norm->forward(Variable(x)).reshape({-1, config_.d_model});
  return log_softmax(output->forward(h), 1).value();
}

// Forward + backward = 3x forward, 2 FLOPs per multiply-add, real tokens only. Per layer and
// source token: the projections 4D^2 and the feed-forward 2DF; per target token: 6D^2 + 2DF and
// the output layer DV (per layer); the cross attention's keys and values 2D^2 per source token;
// the attention products 2 D n m for n queries reading m keys (causal: half of T^2).
double Transformer::training_gemm_flops(const data::Batch& b) const {
  const double D = static_cast<double>(config_.d_model), Fw = static_cast<double>(config_.ffn);
  const double L = static_cast<double>(config_.layers), V = static_cast<double>(config_.tgt_vocab);
  const std::int64_t B = b.gold.size(0), T = b.gold.size(1);
  const Tensor gold = b.gold.contiguous();
  const auto* g = gold.data<std::int64_t>();
  double macs = 0;
  for (std::int64_t r = 0; r < B; ++r) {
    double S = static_cast<double>(b.src_len[static_cast<std::size_t>(r)]), Tr = 0;
    for (std::int64_t t = 0; t < T; ++t) Tr += g[r * T + t] != data::kPad ? 1 : 0;
    macs += L * (S * (4 * D * D + 2 * D * Fw) + 2 * D * S * S);   // encoder
    macs += L * (Tr * (6 * D * D + 2 * D * Fw) + S * 2 * D * D +  // decoder
                 D * Tr * (Tr + 1) + 2 * D * Tr * S);
    macs += Tr * D * V;
  }
  return 3 * 2 * macs;
}

}  // namespace seqgrad::models
