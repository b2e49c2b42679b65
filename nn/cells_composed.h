// The built-in cells' equations written with primitive differentiable ops only, one step each:
// the readable statement of what the fused kernels compute, and what the tests compare them to.
// Arguments as in PyTorch: x [B, I], h and c [B, H], w_ih [G*H, I], w_hh [G*H, H], b_* [G*H].
#pragma once

#include "nn/cell.h"
#include "nn/functional.h"

namespace seqgrad::nn::composed {

// h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)
Variable rnn_step(const Variable& x, const Variable& h, const Variable& w_ih, const Variable& w_hh,
                  const Variable& b_ih, const Variable& b_hh,
                  functional::RnnActivation activation = functional::RnnActivation::Tanh);

// i, f, g, o = σ, σ, tanh, σ of the four row blocks;  c' = f c + i g;  h' = o tanh(c').
State lstm_step(const Variable& x, const Variable& h, const Variable& c, const Variable& w_ih,
                const Variable& w_hh, const Variable& b_ih, const Variable& b_hh);

// r, z = σ(.), n = tanh(gx_n + r (h W_hn^T + b_hn)) [After] or tanh(gx_n + (r h) W_hn^T + b_hn)
// [Before];  h' = (1 - z) n + z h.
Variable gru_step(const Variable& x, const Variable& h, const Variable& w_ih, const Variable& w_hh,
                  const Variable& b_ih, const Variable& b_hh,
                  functional::GruReset reset = functional::GruReset::After);

}  // namespace seqgrad::nn::composed
