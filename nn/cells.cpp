#include "nn/cells.h"

#include <cmath>

namespace seqgrad::nn {

namespace F = functional;

GatedCell::GatedCell(std::string type_name, std::int64_t gates, const CellConfig& c, bool bias,
                     int state_size)
    : Cell(std::move(type_name), c.input_size, c.hidden_size, state_size), gates_(gates) {
  const std::int64_t rows = gates * c.hidden_size;
  const double k = 1.0 / std::sqrt(static_cast<double>(c.hidden_size));
  auto uniform = [&](const Dims& shape) {
    return seqgrad::uniform_(empty(shape, c.dtype), -k, k, c.gen);
  };
  weight_ih = register_parameter("weight_ih", uniform({rows, c.input_size}));
  weight_hh = register_parameter("weight_hh", uniform({rows, c.hidden_size}));
  if (bias) {
    bias_ih = register_parameter("bias_ih", uniform({rows}));
    bias_hh = register_parameter("bias_hh", uniform({rows}));
  }
}

Variable GatedCell::input_projection(const Variable& x,
                                     const std::vector<std::int64_t>& lengths) const {
  return F::packed_linear(x, weight_ih, bias_ih, lengths);
}

Variable GatedCell::recurrent_bias() const {
  return bias_hh.defined() ? bias_hh : Variable(zeros({gates_ * hidden_size()}, weight_hh.dtype()));
}

namespace {

// A single step is a sequence of length 1: x [B, I] becomes [1, B, I].
Variable as_sequence(const Cell& cell, const Variable& x) {
  check(x.dim() == 2 && x.size(1) == cell.input_size(), "{}: input must be [B, {}], got shape {}",
        cell.type_name(), cell.input_size(), x.shape());
  return x.unsqueeze(0);
}

}  // namespace

RNNCell::RNNCell(const CellConfig& c, F::RnnActivation act, bool bias)
    : GatedCell("RNNCell", 1, c, bias, 1), activation(act) {}

Cell::SequenceOutput RNNCell::run(const Variable& x, const State& state,
                                  const std::vector<std::int64_t>& lengths, bool reverse) {
  const State s = check_sequence(x, state, lengths);
  const F::SequenceResult y = F::rnn_sequence(input_projection(x, lengths), s[0], weight_hh,
                                              recurrent_bias(), lengths, reverse, activation);
  return {y.output, y.state};
}

State RNNCell::step(const Variable& x, const State& state) {
  return run(as_sequence(*this, x), state).state;
}

LSTMCell::LSTMCell(const CellConfig& c, bool bias) : GatedCell("LSTMCell", 4, c, bias, 2) {}

Cell::SequenceOutput LSTMCell::run(const Variable& x, const State& state,
                                   const std::vector<std::int64_t>& lengths, bool reverse) {
  const State s = check_sequence(x, state, lengths);
  const F::SequenceResult y = F::lstm_sequence(input_projection(x, lengths), s[0], s[1], weight_hh,
                                               recurrent_bias(), lengths, reverse);
  return {y.output, y.state};
}

State LSTMCell::step(const Variable& x, const State& state) {
  return run(as_sequence(*this, x), state).state;
}

GRUCell::GRUCell(const CellConfig& c, F::GruReset r, bool bias)
    : GatedCell("GRUCell", 3, c, bias, 1), reset(r) {}

Cell::SequenceOutput GRUCell::run(const Variable& x, const State& state,
                                  const std::vector<std::int64_t>& lengths, bool reverse) {
  const State s = check_sequence(x, state, lengths);
  const F::SequenceResult y = F::gru_sequence(input_projection(x, lengths), s[0], weight_hh,
                                              recurrent_bias(), lengths, reverse, reset);
  return {y.output, y.state};
}

State GRUCell::step(const Variable& x, const State& state) {
  return run(as_sequence(*this, x), state).state;
}

std::string GRUCell::extra_repr() const {
  return Cell::extra_repr() +
         (reset == F::GruReset::Before ? ", reset=before (Cho et al. 2014)" : "");
}

}  // namespace seqgrad::nn
