#include "models/cho.h"

#include <cmath>

#include "models/registry.h"

namespace seqgrad::models {

namespace F = nn::functional;

namespace {
// The keys of cho.py's checkpoint config ("emb", "hidden", "maxout"), plus dropout.
const RegisterModel<Cho, ChoConfig> cho_registration(
    "cho", "the RNN Encoder-Decoder of Cho et al. (2014), as ../shared/reference/cho.py",
    ConfigFields<ChoConfig>()
        .add("emb", &ChoConfig::emb, "Embedding size", 1, 65536)
        .add("hidden", &ChoConfig::hidden, "Hidden state size", 1, 65536)
        .add("maxout", &ChoConfig::maxout, "Maxout units of the readout", 1, 65536)
        .add("dropout", &ChoConfig::dropout,
             "Dropout in training, on the embeddings and the readout's inputs", 0, 0.999)
        .optional(),
    /*is_default=*/true);  // the project's showcase: what `seqgrad train` trains by default
}  // namespace

ChoDecoder::ChoDecoder(std::int64_t emb, std::int64_t hidden, Generator* gen)
    : Module("ChoDecoder") {
  const double k = 1.0 / std::sqrt(static_cast<double>(hidden));
  auto uniform = [&](const Dims& shape) { return seqgrad::uniform_(empty(shape), -k, k, gen); };
  weight_ih = register_parameter("weight_ih", uniform({3 * hidden, emb}));
  weight_hh = register_parameter("weight_hh", uniform({3 * hidden, hidden}));
  weight_ch = register_parameter("weight_ch", uniform({3 * hidden, hidden}));
  bias_ih = register_parameter("bias_ih", uniform({3 * hidden}));
  bias_hh = register_parameter("bias_hh", uniform({3 * hidden}));
}

Cho::Cho(const ChoConfig& c, Generator* gen) : EncoderDecoder("Cho"), config_(c), gen_(gen) {
  check(c.src_vocab > data::kUnk && c.tgt_vocab > data::kUnk && c.emb > 0 && c.hidden > 0 &&
            c.maxout > 0 && c.dropout >= 0 && c.dropout < 1,
        "Cho: vocabularies must hold the 4 specials, sizes must be positive and dropout in [0, 1), "
        "got src_vocab={} tgt_vocab={} emb={} hidden={} maxout={} dropout={}",
        c.src_vocab, c.tgt_vocab, c.emb, c.hidden, c.maxout, c.dropout);
  // Registration order = the reference's parameter order.
  src_embed = register_module("src_embed", std::make_shared<nn::Embedding>(
                                               c.src_vocab, c.emb, std::nullopt, kFloat32, gen));
  tgt_embed = register_module("tgt_embed", std::make_shared<nn::Embedding>(
                                               c.tgt_vocab, c.emb, std::nullopt, kFloat32, gen));
  encoder = register_module(
      "encoder", std::make_shared<nn::GRUCell>(nn::CellConfig{c.emb, c.hidden, kFloat32, gen},
                                               F::GruReset::Before));
  context = register_module("context",
                            std::make_shared<nn::Linear>(c.hidden, c.hidden, true, kFloat32, gen));
  init = register_module("init",
                         std::make_shared<nn::Linear>(c.hidden, c.hidden, true, kFloat32, gen));
  decoder = register_module("decoder", std::make_shared<ChoDecoder>(c.emb, c.hidden, gen));
  readout = register_module(
      "readout",
      std::make_shared<nn::Linear>(2 * c.hidden + c.emb, 2 * c.maxout, true, kFloat32, gen));
  output = register_module(
      "output", std::make_shared<nn::Linear>(c.maxout, c.tgt_vocab, true, kFloat32, gen));
}

Variable Cho::drop(const Variable& x) const {
  return F::dropout(x, config_.dropout, is_training(), gen_);
}

Variable Cho::encode(const Tensor& src, const std::vector<std::int64_t>& src_len) {
  check(src.dim() == 2 && src.dtype() == kInt64, "Cho::encode: src must be int64 [B, S], got {} {}",
        src.dtype(), src.shape());
  const Variable x = drop(src_embed->forward(src.t().contiguous()));  // [S, B, E], time-first
  const Variable h_n = encoder->run(x, {}, src_len).state[0];
  return tanh(context->forward(h_n));
}

// t = O [s; e; c] + b_O computed as O_s s + O_e e + (O_c c + b_O): the context's share is the same
// for every token of a sequence, so it is computed once per sequence ([B, 2M]) and `context_of`
// picks each row's; that skips H of the 2H + E inputs per token.
Variable Cho::readout_context(const Variable& c) {
  const std::int64_t H = config_.hidden, E = config_.emb;
  return F::linear(drop(c), readout->weight.narrow(1, H + E, H), readout->bias);
}

Variable Cho::logits(const Variable& s, const Variable& e, const Variable& per_sequence) {
  const std::int64_t H = config_.hidden, E = config_.emb;
  const Variable& w = readout->weight;
  const Variable t =
      F::linear(drop(s), w.narrow(1, 0, H)) + F::linear(e, w.narrow(1, H, E)) + per_sequence;
  Dims pairs = t.shape();
  pairs[pairs.size() - 1] = config_.maxout;
  pairs.push_back(2);
  const Variable m = max(t.view(pairs), -1).first;  // maxout over neighbouring pairs
  return output->forward(m);
}

Cho::DecoderStates Cho::decode_states(const Variable& c, const Tensor& prev,
                                      const std::vector<std::int64_t>& lengths) {
  check(prev.dim() == 2 && prev.dtype() == kInt64 && prev.size(0) == c.size(0),
        "Cho::decode: prev must be int64 [B, T] with B = {}, got {} {}", c.size(0), prev.dtype(),
        prev.shape());
  const Variable s0 = tanh(init->forward(c));
  const Variable e = drop(tgt_embed->forward(prev.t().contiguous()));  // [T, B, E]
  const Variable gx = F::linear(e, decoder->weight_ih, decoder->bias_ih);
  // C c is the same at every step: it joins b_hh as a per-sequence recurrent bias [B, 3H].
  const Variable bias = decoder->bias_hh + F::linear(c, decoder->weight_ch);
  const Variable s = F::gru_sequence(gx, s0, decoder->weight_hh, bias, lengths).output;
  return {s, e};
}

Variable Cho::decode_logits(const Variable& c, const Tensor& prev) {
  const auto [s, e] = decode_states(c, prev, {});
  const std::int64_t T = prev.size(1), B = prev.size(0);
  std::vector<std::int64_t> sequence(static_cast<std::size_t>(T * B));
  for (std::int64_t i = 0; i < T * B; ++i) sequence[static_cast<std::size_t>(i)] = i % B;
  return logits(s.reshape({T * B, -1}), e.reshape({T * B, -1}),
                index_select(readout_context(c), 0, from_vector(sequence, {T * B})))
      .view({T, B, config_.tgt_vocab});
}

// Only real target positions reach the output layer (see target_positions).
Variable Cho::loss(const data::Batch& batch) {
  const std::int64_t B = batch.gold.size(0), T = batch.gold.size(1);
  const TargetPositions pos = target_positions(batch.gold);
  const Variable c = encode(batch.src, batch.src_len);
  const auto [s, e] = decode_states(c, batch.prev, pos.lengths);
  const Variable lg = logits(index_select(s.reshape({T * B, -1}), 0, pos.index),
                             index_select(e.reshape({T * B, -1}), 0, pos.index),
                             index_select(readout_context(c), 0, pos.sequence));
  return F::cross_entropy(lg, pos.gold, F::Reduction::Sum);
}

// State rows: {the readout's per-sequence term O_c c + b_O [N, 2M], s [N, H], the decoder's
// recurrent bias b_hh + C c [N, 3H]}: everything c contributes is computed once, here.
EncoderDecoder::DecoderState Cho::start_decoding(const Tensor& src,
                                                 const std::vector<std::int64_t>& src_len) {
  NoGradGuard no_grad;
  const Variable c = encode(src, src_len);
  const Variable s = tanh(init->forward(c));
  const Variable bias = decoder->bias_hh + F::linear(c, decoder->weight_ch);
  return {readout_context(c).value(), s.value(), bias.value()};
}

Tensor Cho::decode_step(DecoderState& state, const Tensor& y) {
  NoGradGuard no_grad;
  const Variable e = tgt_embed->forward(y);  // [N, E]
  const Variable gx = F::linear(e, decoder->weight_ih, decoder->bias_ih).unsqueeze(0);
  const Variable s =
      F::gru_sequence(gx, Variable(state[1]), decoder->weight_hh, Variable(state[2])).state[0];
  state[1] = s.value().contiguous();
  return log_softmax(logits(s, e, Variable(state[0])), 1).value();
}

// Forward + backward = 3x forward, 2 FLOPs per multiply-add, counting only real tokens (the
// kernels skip padding): per source token the GRU's input and recurrent products, 6H(E + H); per
// target token the decoder's, 6H(E + H), the readout's token share, 4M(H + E), and the output
// layer, 2MV; per sequence the context, decoder start, C c and the readout's context share,
// 2H^2 + 2H^2 + 6H^2 + 4MH.
double Cho::training_gemm_flops(const data::Batch& b) const {
  const double E = static_cast<double>(config_.emb), H = static_cast<double>(config_.hidden);
  const double M = static_cast<double>(config_.maxout), V = static_cast<double>(config_.tgt_vocab);
  double src_tokens = 0;
  for (const std::int64_t n : b.src_len) src_tokens += static_cast<double>(n);
  const double tgt_tokens = static_cast<double>(b.target_tokens);
  const double sequences = static_cast<double>(b.src_len.size());
  const double forward = src_tokens * 6 * H * (E + H) +
                         tgt_tokens * (6 * H * (E + H) + 4 * M * (H + E) + 2 * M * V) +
                         sequences * (10 * H * H + 4 * M * H);
  return 3 * forward;
}

}  // namespace seqgrad::models
