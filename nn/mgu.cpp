#include "nn/mgu.h"

#include <cmath>

#include "nn/functional.h"

namespace seqgrad::nn {

using functional::linear;

// Initialised like PyTorch's cells: U(-1/sqrt(H), 1/sqrt(H)).
MGUCell::MGUCell(const CellConfig& c) : Cell("MGUCell", c.input_size, c.hidden_size) {
  const double k = 1.0 / std::sqrt(static_cast<double>(c.hidden_size));
  auto uniform = [&](const Dims& shape) {
    return seqgrad::uniform_(empty(shape, c.dtype), -k, k, c.gen);
  };
  weight_ih = register_parameter("weight_ih", uniform({2 * c.hidden_size, c.input_size}));
  weight_hh = register_parameter("weight_hh", uniform({2 * c.hidden_size, c.hidden_size}));
  bias = register_parameter("bias", uniform({2 * c.hidden_size}));
}

State MGUCell::step(const Variable& x, const State& state) {
  const std::int64_t H = hidden_size();
  const Variable& h = state.at(0);
  const Variable gx = linear(x, weight_ih, bias);  // both input projections in one GEMM
  const Variable f = sigmoid(gx.narrow(1, 0, H) + linear(h, weight_hh.narrow(0, 0, H)));
  const Variable candidate = tanh(gx.narrow(1, H, H) + linear(f * h, weight_hh.narrow(0, H, H)));
  return {(1.0 - f) * h + f * candidate};
}

}  // namespace seqgrad::nn
