#include "models/seq2seq.h"

#include <algorithm>

#include "models/encoder_choice.h"
#include "models/registry.h"

namespace seqgrad::models {

namespace F = nn::functional;

namespace {
std::string cell_name(const std::string& cell) { return cell == "rnn" ? "rnn_tanh" : cell; }

// The keys of seq2seq.py's checkpoint config ("cell", "emb", "hidden", "layers",
// "reverse_source"), plus dropout.
const RegisterModel<Seq2Seq, Seq2SeqConfig> seq2seq_registration(
    "seq2seq", "Sutskever et al. (2014) for any registered cell, as ../shared/reference/seq2seq.py",
    ConfigFields<Seq2SeqConfig>()
        .add("cell", &Seq2SeqConfig::cell,
             "Recurrent cell: any registered (lstm, gru, rnn, mgu, ...)")
        .add("emb", &Seq2SeqConfig::emb, "Embedding size", 1, 65536)
        .add("hidden", &Seq2SeqConfig::hidden, "Hidden state size", 1, 65536)
        .add("layers", &Seq2SeqConfig::layers, "Layers of encoder and decoder", 1, 64)
        .add("reverse_source", &Seq2SeqConfig::reverse_source, "Read the source backwards")
        .optional()
        .add("dropout", &Seq2SeqConfig::dropout, "Dropout in training, between layers", 0, 0.999)
        .optional()
        .add("encoder", &Seq2SeqConfig::encoder, kEncoderHelp)
        .optional()
        .add("conv_layers", &Seq2SeqConfig::conv_layers, kConvLayersHelp, 1, 1024)
        .optional()
        .add("kernel", &Seq2SeqConfig::kernel, kKernelHelp, 1, 1023)
        .optional()
        .add("max_positions", &Seq2SeqConfig::max_positions, kMaxPositionsHelp, 1, 1 << 20)
        .optional());
}  // namespace

Seq2Seq::Seq2Seq(const Seq2SeqConfig& c, Generator* gen) : EncoderDecoder("Seq2Seq"), config_(c) {
  check(c.src_vocab > data::kUnk && c.tgt_vocab > data::kUnk && c.emb > 0 && c.hidden > 0 &&
            c.layers > 0,
        "Seq2Seq: vocabularies must hold the 4 specials and sizes must be positive, got "
        "src_vocab={} tgt_vocab={} emb={} hidden={} layers={}",
        c.src_vocab, c.tgt_vocab, c.emb, c.hidden, c.layers);
  const nn::RecurrentOptions rnn{.num_layers = c.layers, .dropout = c.dropout, .gen = gen};
  if (uses_conv_encoder(c.encoder, "Seq2Seq")) {
    tgt_embed = register_module("tgt_embed", std::make_shared<nn::Embedding>(
                                                 c.tgt_vocab, c.emb, std::nullopt, kFloat32, gen));
    conv_encoder =
        register_module("encoder", std::make_shared<nn::ConvEncoder>(conv_encoder_config(
                                       c.src_vocab, c.emb, c.hidden, c.hidden, c.conv_layers,
                                       c.kernel, c.max_positions, c.dropout, gen)));
    decoder = register_module(
        "decoder", std::make_shared<nn::Recurrent>(cell_name(c.cell), c.emb, c.hidden, rnn));
    const std::int64_t states = decoder->cells().front()->state_size();
    init = register_module(
        "init",
        std::make_shared<nn::Linear>(c.hidden, c.layers * states * c.hidden, true, kFloat32, gen));
    output = register_module(
        "output", std::make_shared<nn::Linear>(c.hidden, c.tgt_vocab, true, kFloat32, gen));
    return;
  }
  src_embed = register_module("src_embed", std::make_shared<nn::Embedding>(
                                               c.src_vocab, c.emb, std::nullopt, kFloat32, gen));
  tgt_embed = register_module("tgt_embed", std::make_shared<nn::Embedding>(
                                               c.tgt_vocab, c.emb, std::nullopt, kFloat32, gen));
  encoder = register_module(
      "encoder", std::make_shared<nn::Recurrent>(cell_name(c.cell), c.emb, c.hidden, rnn));
  decoder = register_module(
      "decoder", std::make_shared<nn::Recurrent>(cell_name(c.cell), c.emb, c.hidden, rnn));
  output = register_module(
      "output", std::make_shared<nn::Linear>(c.hidden, c.tgt_vocab, true, kFloat32, gen));
}

Tensor reverse_before_eos(const Tensor& src, const std::vector<std::int64_t>& src_len) {
  Tensor out = src.contiguous().clone();
  auto* ids = out.data<std::int64_t>();
  const std::int64_t S = src.size(1);
  for (std::int64_t b = 0; b < src.size(0); ++b) {
    const std::int64_t n = src_len[static_cast<std::size_t>(b)];
    std::reverse(ids + b * S, ids + b * S + std::max<std::int64_t>(n - 1, 0));
  }
  return out;
}

nn::State Seq2Seq::encode(const Tensor& src, const std::vector<std::int64_t>& src_len) {
  const Tensor ids = config_.reverse_source ? reverse_before_eos(src, src_len) : src;
  if (conv_encoder) {
    // tanh(init(c)) as [B, states, L, H], handed to the decoder as one [L, B, H] per state.
    const std::int64_t B = src.size(0), H = config_.hidden, L = config_.layers;
    const Variable c = nn::mean_of_zero_padded(conv_encoder->forward(ids, src_len), src_len);
    const Variable all = tanh(init->forward(c)).reshape({B, -1, L, H});
    nn::State state;
    for (std::int64_t k = 0; k < all.size(1); ++k)
      state.push_back(all.select(1, k).transpose(0, 1).contiguous());
    return state;
  }
  const Variable x = src_embed->forward(ids.t().contiguous());  // [S, B, E]
  return encoder->forward(x, {}, src_len).state;
}

Variable Seq2Seq::loss(const data::Batch& batch) {
  const std::int64_t B = batch.gold.size(0), T = batch.gold.size(1);
  const TargetPositions pos = target_positions(batch.gold);
  const nn::State state = encode(batch.src, batch.src_len);
  const Variable e = tgt_embed->forward(batch.prev.t().contiguous());  // [T, B, E]
  const Variable out = decoder->forward(e, state, pos.lengths).output;
  const Variable lg = output->forward(index_select(out.reshape({T * B, -1}), 0, pos.index));
  return F::cross_entropy(lg, pos.gold, F::Reduction::Sum);
}

// State rows: one [N, H] tensor per layer and state component (h, and c for an LSTM), layer by
// layer: {h_0, c_0, h_1, c_1, ...}. Separate tensors, not one [N, L, H]: a step then reads each
// layer's state in place and keeps the cell's result as it comes, with no strided copy in and no
// stack out at every decoding step.
EncoderDecoder::DecoderState Seq2Seq::start_decoding(const Tensor& src,
                                                     const std::vector<std::int64_t>& src_len) {
  NoGradGuard no_grad;
  const nn::State final = encode(src, src_len);  // each [L, N, H]
  DecoderState state;
  for (std::int64_t l = 0; l < config_.layers; ++l)
    for (const Variable& v : final) state.push_back(v.value().select(0, l));
  return state;
}

// The cnn encoder's position table holds source + EOS; the recurrent encoder has no limit.
LengthLimits Seq2Seq::length_limits() const {
  LengthLimits limits;
  if (conv_encoder) limits.source = conv_encoder->config().max_positions - 1;
  return limits;
}

Tensor Seq2Seq::decode_step(DecoderState& state, const Tensor& y) {
  NoGradGuard no_grad;
  const std::size_t components = state.size() / static_cast<std::size_t>(config_.layers);
  Variable x = tgt_embed->forward(y);
  for (std::int64_t l = 0; l < config_.layers; ++l) {
    const std::size_t first = static_cast<std::size_t>(l) * components;
    nn::State s;
    for (std::size_t k = 0; k < components; ++k) s.emplace_back(state[first + k]);
    const nn::State next = decoder->cells()[static_cast<std::size_t>(l)]->step(x, s);
    for (std::size_t k = 0; k < components; ++k) state[first + k] = next[k].value();
    x = next[0];
  }
  return log_softmax(output->forward(x), 1).value();
}

}  // namespace seqgrad::models

namespace seqgrad::models {

// Forward + backward = 3x forward, 2 FLOPs per multiply-add, real tokens only (the recurrent
// kernels skip padding): per source token the encoder's input and recurrent products of every
// layer; per target token the decoder's and the output layer's HV. 0 for the cnn encoder (not
// counted).
double Seq2Seq::training_gemm_flops(const data::Batch& b) const {
  if (!encoder) return 0;
  double src_tokens = 0;
  for (const std::int64_t n : b.src_len) src_tokens += static_cast<double>(n);
  const double tgt_tokens = static_cast<double>(b.target_tokens);
  const double macs = src_tokens * recurrent_macs_per_token(*encoder) +
                      tgt_tokens * (recurrent_macs_per_token(*decoder) +
                                    static_cast<double>(output->weight.numel()));
  return 3 * 2 * macs;
}

}  // namespace seqgrad::models
