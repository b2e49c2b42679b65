#include "nn/cells_composed.h"

namespace seqgrad::nn::composed {

using functional::linear;

namespace {
// Row block k of the gates: columns [k*H, (k+1)*H) of a [B, G*H] projection.
Variable block(const Variable& gates, std::int64_t k, std::int64_t H) {
  return gates.narrow(1, k * H, H);
}
}  // namespace

Variable rnn_step(const Variable& x, const Variable& h, const Variable& w_ih, const Variable& w_hh,
                  const Variable& b_ih, const Variable& b_hh,
                  functional::RnnActivation activation) {
  const Variable pre = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh);
  return activation == functional::RnnActivation::Tanh ? tanh(pre) : relu(pre);
}

State lstm_step(const Variable& x, const Variable& h, const Variable& c, const Variable& w_ih,
                const Variable& w_hh, const Variable& b_ih, const Variable& b_hh) {
  const std::int64_t H = h.size(1);
  const Variable gates = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh);
  const Variable i = sigmoid(block(gates, 0, H)), f = sigmoid(block(gates, 1, H)),
                 g = tanh(block(gates, 2, H)), o = sigmoid(block(gates, 3, H));
  const Variable c_next = f * c + i * g;
  return {o * tanh(c_next), c_next};
}

Variable gru_step(const Variable& x, const Variable& h, const Variable& w_ih, const Variable& w_hh,
                  const Variable& b_ih, const Variable& b_hh, functional::GruReset reset) {
  const std::int64_t H = h.size(1);
  const Variable gx = linear(x, w_ih, b_ih);
  const Variable w_rz = w_hh.narrow(0, 0, 2 * H), w_n = w_hh.narrow(0, 2 * H, H);
  const Variable b_rz = b_hh.narrow(0, 0, 2 * H), b_n = b_hh.narrow(0, 2 * H, H);
  const Variable gh_rz = linear(h, w_rz, b_rz);
  const Variable r = sigmoid(block(gx, 0, H) + block(gh_rz, 0, H));
  const Variable z = sigmoid(block(gx, 1, H) + block(gh_rz, 1, H));
  const Variable n = reset == functional::GruReset::After
                         ? tanh(block(gx, 2, H) + r * linear(h, w_n, b_n))
                         : tanh(block(gx, 2, H) + linear(r * h, w_n, b_n));
  return (1.0 - z) * n + z * h;
}

}  // namespace seqgrad::nn::composed
