#include "models/attention.h"

#include "models/encoder_choice.h"
#include "models/registry.h"

namespace seqgrad::models {

namespace F = nn::functional;

namespace {
const RegisterModel<Attention, AttentionConfig> attention_registration(
    "attention",
    "Bahdanau et al. (2015): a bidirectional GRU encoder and additive attention at every step",
    ConfigFields<AttentionConfig>()
        .add("emb", &AttentionConfig::emb, "Embedding size", 1, 65536)
        .add("hidden", &AttentionConfig::hidden, "Hidden state size", 1, 65536)
        .add("attention", &AttentionConfig::attention,
             "Size of the attention's scoring layer (0: = hidden)", 0, 65536)
        .add("dropout", &AttentionConfig::dropout,
             "Dropout in training, on the source embeddings and the output layer's input", 0, 0.999)
        .optional()
        .add("encoder", &AttentionConfig::encoder, kEncoderHelp)
        .optional()
        .add("conv_layers", &AttentionConfig::conv_layers, kConvLayersHelp, 1, 1024)
        .optional()
        .add("kernel", &AttentionConfig::kernel, kKernelHelp, 1, 1023)
        .optional()
        .add("max_positions", &AttentionConfig::max_positions, kMaxPositionsHelp, 1, 1 << 20)
        .optional());

AttentionConfig resolved(AttentionConfig c) {
  if (c.attention == 0) c.attention = c.hidden;
  return c;
}
}  // namespace

Attention::Attention(const AttentionConfig& c, Generator* gen)
    : EncoderDecoder("Attention"), config_(resolved(c)), gen_(gen) {
  check(c.src_vocab > data::kUnk && c.tgt_vocab > data::kUnk && c.emb > 0 && c.hidden > 0 &&
            c.attention >= 0 && c.dropout >= 0 && c.dropout < 1,
        "Attention: vocabularies must hold the 4 specials, sizes must be positive and dropout in "
        "[0, 1), got src_vocab={} tgt_vocab={} emb={} hidden={} attention={} dropout={}",
        c.src_vocab, c.tgt_vocab, c.emb, c.hidden, c.attention, c.dropout);
  const std::int64_t H = c.hidden, A = config_.attention;
  if (uses_conv_encoder(c.encoder, "Attention")) {
    tgt_embed = register_module("tgt_embed", std::make_shared<nn::Embedding>(
                                                 c.tgt_vocab, c.emb, std::nullopt, kFloat32, gen));
    conv_encoder = register_module("encoder", std::make_shared<nn::ConvEncoder>(conv_encoder_config(
                                                  c.src_vocab, c.emb, H, 2 * H, c.conv_layers,
                                                  c.kernel, c.max_positions, c.dropout, gen)));
    init = register_module("init", std::make_shared<nn::Linear>(2 * H, H, true, kFloat32, gen));
  } else {
    src_embed = register_module("src_embed", std::make_shared<nn::Embedding>(
                                                 c.src_vocab, c.emb, std::nullopt, kFloat32, gen));
    tgt_embed = register_module("tgt_embed", std::make_shared<nn::Embedding>(
                                                 c.tgt_vocab, c.emb, std::nullopt, kFloat32, gen));
    encoder = register_module(
        "encoder", std::make_shared<nn::Recurrent>(
                       "gru", c.emb, H, nn::RecurrentOptions{.bidirectional = true, .gen = gen}));
    init = register_module("init", std::make_shared<nn::Linear>(H, H, true, kFloat32, gen));
  }
  attn_query =
      register_module("attn_query", std::make_shared<nn::Linear>(H, A, false, kFloat32, gen));
  attn_key =
      register_module("attn_key", std::make_shared<nn::Linear>(2 * H, A, true, kFloat32, gen));
  attn_v = register_module("attn_v", std::make_shared<nn::Linear>(A, 1, false, kFloat32, gen));
  decoder = register_module(
      "decoder", std::make_shared<nn::GRUCell>(nn::CellConfig{c.emb + 2 * H, H, kFloat32, gen}));
  output = register_module(
      "output", std::make_shared<nn::Linear>(3 * H + c.emb, c.tgt_vocab, true, kFloat32, gen));
}

Attention::Memory Attention::encode(const Tensor& src, const std::vector<std::int64_t>& src_len) {
  check(src.dim() == 2 && src.dtype() == kInt64,
        "Attention::encode: src must be int64 [B, S], got {} {}", src.dtype(), src.shape());
  if (conv_encoder) {
    Memory m;
    m.annotations = conv_encoder->forward(src, src_len);  // [B, S, 2H], zeros at the padding
    m.keys = attn_key->forward(m.annotations);
    m.lengths = src_len;
    m.s0 = tanh(init->forward(nn::mean_of_zero_padded(m.annotations, src_len)));
    return m;
  }
  const Variable x =
      F::dropout(src_embed->forward(src.t().contiguous()), config_.dropout, is_training(), gen_);
  const auto enc = encoder->forward(x, {}, src_len);
  Memory m;
  m.annotations = enc.output.transpose(0, 1).contiguous();  // [B, S, 2H]
  m.keys = attn_key->forward(m.annotations);
  m.lengths = src_len;
  m.s0 = tanh(init->forward(enc.state[0].select(0, 1)));  // the backward direction's final state
  return m;
}

Variable Attention::attend(const Memory& m, const Variable& s) {
  // e_tj = v^T tanh(W_q s + U_k h_j), softmax over the source's real tokens: one fused node
  // (see nn/functional_attention.cpp; tests check it against these ops composed).
  return F::additive_attention(attn_query->forward(s), m.keys,
                               attn_v->weight.reshape({config_.attention}), m.annotations,
                               m.lengths);  // [B, 2H]
}

Variable Attention::readout(const Variable& x) {
  return output->forward(F::dropout(x, config_.dropout, is_training(), gen_));
}

// The whole teacher-forced decoder is one node (nn::functional::attention_gru_decoder: the
// attention reads and GRU steps of all T positions, with the weight gradients as one GEMM over
// all steps). The e(y_{t-1}) part of the GRU's input projection does not depend on the recurrence,
// so it is one GEMM over all steps before it; the output layer then runs once, as one GEMM, over
// the real target positions of all steps (none is spent on padding). decode_step, one step at a
// time, computes the same equations from the cell and the one-step attention read.
Variable Attention::loss(const data::Batch& batch) {
  const std::int64_t B = batch.gold.size(0), T = batch.gold.size(1);
  const std::int64_t E = config_.emb, H = config_.hidden;
  // The fused decoder implements PyTorch's reset-after GRU only (what decode_step's cell runs by
  // default); a cell switched to Cho's reset-before would train other equations than it decodes.
  check(decoder->reset == nn::functional::GruReset::After,
        "Attention::loss: the fused decoder needs a reset-after GRU cell (the default)");
  const TargetPositions pos = target_positions(batch.gold);
  const Memory m = encode(batch.src, batch.src_len);
  const Variable e_all = tgt_embed->forward(batch.prev.t().contiguous());  // [T, B, E]
  const Variable gx_e =
      F::linear(e_all, decoder->weight_ih.narrow(1, 0, E), decoder->bias_ih);  // [T, B, 3H]
  const Variable states_contexts = F::attention_gru_decoder(
      gx_e, m.s0, attn_query->weight, m.keys, attn_v->weight.reshape({config_.attention}),
      m.annotations, decoder->weight_ih.narrow(1, E, 2 * H), decoder->weight_hh, decoder->bias_hh,
      m.lengths);                         // [T, B, H + 2H]: [s_t; c_t]
  auto real = [&](const Variable& all) {  // [T, B, n] -> [N, n]
    return index_select(all.reshape({T * B, all.size(2)}), 0, pos.index);
  };
  const Variable logits = readout(cat({real(states_contexts), real(e_all)}, 1));
  return F::cross_entropy(logits, pos.gold, F::Reduction::Sum);
}

// State rows: {annotations [N, S, 2H], keys [N, S, A], source lengths int64 [N], s [N, H]}.
EncoderDecoder::DecoderState Attention::start_decoding(const Tensor& src,
                                                       const std::vector<std::int64_t>& src_len) {
  NoGradGuard no_grad;
  const Memory m = encode(src, src_len);
  return {m.annotations.value(), m.keys.value(), from_vector(src_len, {src.size(0)}), m.s0.value()};
}

// The cnn encoder's position table holds source + EOS; the recurrent encoder has no limit.
LengthLimits Attention::length_limits() const {
  LengthLimits limits;
  if (conv_encoder) limits.source = conv_encoder->config().max_positions - 1;
  return limits;
}

Tensor Attention::decode_step(DecoderState& state, const Tensor& y) {
  NoGradGuard no_grad;
  const Memory m{Variable(state[0]), Variable(state[1]),
                 state[2].contiguous().to_vector<std::int64_t>(), Variable(state[3])};
  const Variable e = tgt_embed->forward(y);
  const Variable context = attend(m, m.s0);
  const Variable s = decoder->step(cat({e, context}, 1), {m.s0})[0];
  state[3] = s.value().contiguous();
  return log_softmax(readout(cat({s, context, e}, 1)), 1).value();
}

// The step's read (attend) weighs the annotations with alpha_t from s_{t-1} = state[3]: the same
// kernel on the same inputs gives those weights before decode_step advances the state.
Tensor Attention::decode_step_attention(DecoderState& state, const Tensor& y,
                                        const AttentionChoice& which, Tensor& weights) {
  check_attention_choice("Attention::decode_step_attention", attention_layout(), which);
  {
    NoGradGuard no_grad;
    weights =
        F::additive_attention_weights(attn_query->forward(Variable(state[3])).value(), state[1],
                                      attn_v->weight.value().reshape({config_.attention}),
                                      state[2].contiguous().to_vector<std::int64_t>());
  }
  return decode_step(state, y);
}

}  // namespace seqgrad::models

namespace seqgrad::models {

// Forward + backward = 3x forward, 2 FLOPs per multiply-add, real tokens only. Per source token:
// both encoder directions and the keys U_k h_j (A x 2H); per sequence s_0 (H x H); per target
// token the decoder GRU, the query W_q s (A x H), the output layer, and the attention read over
// the sequence's S real source tokens: the scores v^T tanh(q + k_j) (A per token) and the context
// sum_j alpha_j h_j (2H per token). 0 for the cnn encoder (not counted).
double Attention::training_gemm_flops(const data::Batch& b) const {
  if (!encoder) return 0;
  const auto numel = [](const std::shared_ptr<nn::Linear>& l) {
    return static_cast<double>(l->weight.numel());
  };
  const double H = static_cast<double>(config_.hidden);
  const double A = static_cast<double>(config_.attention > 0 ? config_.attention : config_.hidden);
  const std::vector<std::int64_t> tgt = target_lengths(b.gold);
  double macs = 0;
  for (std::size_t r = 0; r < tgt.size(); ++r) {
    const double S = static_cast<double>(b.src_len[r]), T = static_cast<double>(tgt[r]);
    macs += S * (recurrent_macs_per_token(*encoder) + numel(attn_key)) + numel(init);
    macs += T * (recurrent_macs_per_token(*decoder) + numel(attn_query) + numel(output) +
                 S * (A + 2 * H));
  }
  return 3 * 2 * macs;
}

}  // namespace seqgrad::models
