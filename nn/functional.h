// Functional forms of the layers and losses (like torch.nn.functional). Each is a differentiable
// op: forward and backward side by side in nn/functional_*.cpp, checked by gradcheck.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "autograd/all.h"

namespace seqgrad::nn::functional {

// --- dense (functional_dense.cpp) ---------------------------------------------------------------
// y = x W^T + b for x [..., in], W [out, in], b [out] (b may be undefined).
Variable linear(const Variable& x, const Variable& weight, const Variable& bias = {});
// Rows of weight [num, dim] picked by int64 ids of any shape; the result has shape ids.shape +
// [dim]. Rows equal to padding_idx (negative: counted from the end) get no gradient.
Variable embedding(const Tensor& ids, const Variable& weight,
                   std::optional<std::int64_t> padding_idx = {});
// Zeroes each element with probability p and scales the rest by 1/(1-p) when training.
Variable dropout(const Variable& x, double p, bool training, Generator* gen = nullptr);
// Normalises over the trailing dims of normalized_shape; weight and bias may be undefined.
Variable layer_norm(const Variable& x, const Dims& normalized_shape, const Variable& weight = {},
                    const Variable& bias = {}, double eps = 1e-5);
// GELU, exact form x * Phi(x) (PyTorch's default approximate='none').
Variable gelu(const Variable& x);
// Gated linear unit (functional_glu.cpp): x split in halves a, b along `dim` (even size),
// a * sigmoid(b), as torch.nn.functional.glu.
Variable glu(const Variable& x, std::int64_t dim = -1);

// --- padded sequences (functional_packing.cpp) ---------------------------------------------------
// A time-major batch x [T, B, ...] holds sequence b at positions t < lengths[b]; the rest is
// padding. pack_padded keeps the live positions, in time-major order, as [N, ...] (N = the sum of
// lengths); pad_packed puts them back as [total_length, B, ...] with zeros at the padding. Like
// torch.nn.utils.rnn.pack_padded_sequence(enforce_sorted=False).data and pad_packed_sequence.
Variable pack_padded(const Variable& x, const std::vector<std::int64_t>& lengths);
Variable pad_packed(const Variable& x, const std::vector<std::int64_t>& lengths,
                    std::int64_t total_length);
// linear(x, weight, bias) over the live positions of x [T, B, in] only, zeros at the padding
// (empty lengths: all T): the recurrent layers' input projection, which then spends no GEMM
// work on padding, as PyTorch's packed sequences do.
Variable packed_linear(const Variable& x, const Variable& weight, const Variable& bias,
                       const std::vector<std::int64_t>& lengths);

// --- convolution and pooling (functional_conv.cpp) ----------------------------------------------
struct Conv2dOptions {
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_h = 0, pad_w = 0;
  std::int64_t dilation_h = 1, dilation_w = 1;
};
// x [N, C, H, W], weight [OC, C, KH, KW], bias [OC] (may be undefined) -> [N, OC, OH, OW].
Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias,
                const Conv2dOptions& options = {});
// x [N, C, L], weight [OC, C, K], bias [OC] -> [N, OC, OL].
Variable conv1d(const Variable& x, const Variable& weight, const Variable& bias,
                std::int64_t stride = 1, std::int64_t padding = 0, std::int64_t dilation = 1);
// x [N, C, H, W]; window kernel, stride (0 means = kernel), zero... padding as in PyTorch.
Variable max_pool2d(const Variable& x, std::int64_t kernel, std::int64_t stride = 0,
                    std::int64_t padding = 0);
Variable avg_pool2d(const Variable& x, std::int64_t kernel, std::int64_t stride = 0,
                    std::int64_t padding = 0);

// --- fused recurrent layers (functional_rnn.cpp, functional_lstm.cpp, functional_gru.cpp) --------
// One graph node runs a whole sequence through one layer in one direction. Layout time-first:
//   gx [T, B, G*H]   input projections x_t W_ih^T + b_ih of every step (one GEMM, by the caller)
//   w_hh [G*H, H]    recurrent weights;  b_hh [G*H], or [B, G*H] for a per-sequence term (Cho's C
//   c) h0, c0 [B, H]    initial state lengths          per-sequence lengths in [0, T] (empty: all
//   T); steps at t >= length leave the
//                    state unchanged and output zeros, so the final state is each sequence's own
//   reverse          process t = T-1 .. 0 (the backward direction of a bidirectional layer)
// Each step is one GEMM (h W_hh^T) plus one elementwise gate kernel; the backward pass runs the
// steps in reverse with a hand-written gate backward and finishes with one GEMM for dW_hh over all
// steps (nn/recurrence.h holds the loop every kernel shares).
//
// The node's outputs: the output of every step, [T, B, H], and the final state, {h_n} ({h_n, c_n}
// for the LSTM), each [B, H].
struct SequenceResult {
  Variable output;
  std::vector<Variable> state;
};
enum class RnnActivation { Tanh, Relu };
// h' = act(gx + h W_hh^T + b_hh)
SequenceResult rnn_sequence(const Variable& gx, const Variable& h0, const Variable& w_hh,
                            const Variable& b_hh, const std::vector<std::int64_t>& lengths = {},
                            bool reverse = false, RnnActivation activation = RnnActivation::Tanh);
// Gates i, f, g, o:  c' = f c + i g,  h' = o tanh(c')
SequenceResult lstm_sequence(const Variable& gx, const Variable& h0, const Variable& c0,
                             const Variable& w_hh, const Variable& b_hh,
                             const std::vector<std::int64_t>& lengths = {}, bool reverse = false);
// Gates r, z, n:  h' = (1 - z) n + z h  with
//   ResetAfter  (PyTorch):                    n = tanh(gx_n + r (h W_hn^T + b_hn))
//   ResetBefore (Cho et al. 2014, sec. 2.3):  n = tanh(gx_n + (r h) W_hn^T + b_hn)
enum class GruReset { After, Before };
SequenceResult gru_sequence(const Variable& gx, const Variable& h0, const Variable& w_hh,
                            const Variable& b_hh, const std::vector<std::int64_t>& lengths = {},
                            bool reverse = false, GruReset reset = GruReset::After);

// --- attention (functional_attention.cpp) --------------------------------------------------------
// Additive (Bahdanau) attention read for one decoder step, one graph node:
//   e_bj = v . tanh(keys_bj + q_b) for j < lengths[b],  alpha_b = softmax_j(e_b),
//   context_b = sum_j alpha_bj values_bj
// q [B, A] (the projected decoder state), keys [B, S, A] (the projected annotations), v [A],
// values [B, S, D] (the annotations); lengths in [1, S]. Returns context [B, D]. Positions at or
// past a row's length get weight 0 and no gradient.
Variable additive_attention(const Variable& q, const Variable& keys, const Variable& v,
                            const Variable& values, const std::vector<std::int64_t>& lengths);
// The weights alpha [B, S] of that read for the same q, keys, v and lengths (no node, no
// gradient): the same kernel, so the very numbers additive_attention weighs the values with.
Tensor additive_attention_weights(const Tensor& q, const Tensor& keys, const Tensor& v,
                                  const std::vector<std::int64_t>& lengths);

// The teacher-forced decoder of an attention encoder-decoder, all T steps as one node
// (functional_attention_decoder.cpp): for t = 0 .. T-1, starting from s0 [B, H],
//   c_t = additive_attention(s_t W_q^T, keys, v, values, lengths)
//   s_{t+1} = GRU step (PyTorch's gates, reset after) of input gx_e[t] + c_t W_c^T and state s_t,
//             recurrent weights w_hh [3H, H] and bias b_hh [3H]
// gx_e [T, B, 3H] is the input projection's part that does not depend on c_t (with b_ih);
// w_q [A, H], w_c [3H, D]. Returns [T, B, H + D], row t = [s_{t+1}; c_t]: what the readout reads
// (the model's output layer takes [s; c; e]). Equal to composing the ops step by step; the weight
// gradients are one GEMM over all steps.
Variable attention_gru_decoder(const Variable& gx_e, const Variable& s0, const Variable& w_q,
                               const Variable& keys, const Variable& v, const Variable& values,
                               const Variable& w_c, const Variable& w_hh, const Variable& b_hh,
                               const std::vector<std::int64_t>& lengths);

// --- scaled dot-product attention (functional_dot_attention.cpp) ---------------------------------
// Which keys a query may read: keys at or past key_lengths[b] are padding (empty: none is), and
// with `causal` query i reads keys j <= i only (a decoder's self-attention).
struct AttentionMask {
  AttentionMask(std::vector<std::int64_t> key_lengths_ = {}, bool causal_ = false,
                std::vector<std::int64_t> query_lengths_ = {})
      : key_lengths(std::move(key_lengths_)),
        causal(causal_),
        query_lengths(std::move(query_lengths_)) {}
  std::vector<std::int64_t> key_lengths;
  bool causal = false;
  // Packed rows only (q [Nq, H*dk], k [Nk, H*dk], v [Nk, H*dv]: the sequences one after another,
  // no padding): sequence b's queries are the query_lengths[b] rows after those of sequences
  // before it, its keys likewise with key_lengths (then required).
  std::vector<std::int64_t> query_lengths;
};
// Multi-head attention's core, one graph node for all heads (torch's
// F.scaled_dot_product_attention with the heads kept side by side in the last dim):
//   q [B, Tq, H*dk], k [B, Tk, H*dk], v [B, Tk, H*dv];  for each row b and head h
//   P = softmax_j(q_bh k_bh^T / sqrt(dk)) over the keys the mask allows (0 elsewhere),
//   out_bh = dropout(P) v_bh          -> out [B, Tq, H*dv], heads in order, ready for out_proj.
// Head h reads columns [h*dk, (h+1)*dk) in place: no transposes. Dropout (on P, as PyTorch's
// MultiheadAttention) only when training with dropout_p > 0. Every query must see a key.
Variable scaled_dot_product_attention(const Variable& q, const Variable& k, const Variable& v,
                                      std::int64_t heads, const AttentionMask& mask = {},
                                      double dropout_p = 0.0, bool training = false,
                                      Generator* gen = nullptr);
// The attention weights P [B, H, Tq, Tk] of the same call (no dropout, no gradient): what
// translate --show-attention draws.
Tensor attention_weights(const Tensor& q, const Tensor& k, std::int64_t heads,
                         const AttentionMask& mask = {});

// --- losses (functional_loss.cpp) ---------------------------------------------------------------
enum class Reduction { None, Mean, Sum };

// Cross-entropy of logits [N, C] (or [N, C, d...]) against int64 class indices [N] ([N, d...]),
// fused with log_softmax. Targets equal to ignore_index contribute nothing and are not counted
// in the mean. label_smoothing mixes the one-hot target with the uniform distribution.
Variable cross_entropy(const Variable& logits, const Tensor& target,
                       Reduction reduction = Reduction::Mean, std::int64_t ignore_index = -100,
                       double label_smoothing = 0.0);
// Negative log-likelihood of log-probabilities [N, C] against class indices [N].
Variable nll_loss(const Variable& log_probs, const Tensor& target,
                  Reduction reduction = Reduction::Mean, std::int64_t ignore_index = -100);
Variable mse_loss(const Variable& input, const Variable& target,
                  Reduction reduction = Reduction::Mean);
// Stable: max(x, 0) - x t + log(1 + e^-|x|).
Variable binary_cross_entropy_with_logits(const Variable& logits, const Variable& target,
                                          Reduction reduction = Reduction::Mean);

}  // namespace seqgrad::nn::functional
