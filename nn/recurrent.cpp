#include "nn/recurrent.h"

#include "nn/functional.h"

namespace seqgrad::nn {

Recurrent::Recurrent(const std::string& cell, std::int64_t input_size, std::int64_t hidden_size,
                     RecurrentOptions options)
    : Recurrent("Recurrent", cell, input_size, hidden_size, options) {}

Recurrent::Recurrent(std::string type_name, const std::string& cell, std::int64_t input_size,
                     std::int64_t hidden_size, RecurrentOptions o)
    : Module(std::move(type_name)),
      cell_name_(cell),
      input_size_(input_size),
      hidden_size_(hidden_size),
      options_(o) {
  check(o.num_layers >= 1, "{}: num_layers must be at least 1, got {}", this->type_name(),
        o.num_layers);
  check(o.dropout >= 0.0 && o.dropout < 1.0, "{}: dropout must be in [0, 1), got {}",
        this->type_name(), o.dropout);
  const std::int64_t D = o.bidirectional ? 2 : 1;
  for (std::int64_t l = 0; l < o.num_layers; ++l)
    for (std::int64_t d = 0; d < D; ++d) {
      auto c =
          make_cell(cell, {l == 0 ? input_size : D * hidden_size, hidden_size, o.dtype, o.gen});
      // PyTorch's flat names: weight_ih_l0, bias_hh_l1_reverse, ...
      const std::string suffix = fmt::format("_l{}{}", l, d == 1 ? "_reverse" : "");
      for (const auto& [name, p] : c->named_parameters()) register_parameter(name + suffix, p);
      cells_.push_back(std::move(c));
    }
}

RecurrentOutput Recurrent::forward(const Variable& x, const State& initial_state,
                                   const std::vector<std::int64_t>& lengths) {
  check(x.dim() == 3 && x.size(2) == input_size_, "{}: input must be {} with I = {}, got shape {}",
        type_name(), options_.batch_first ? "[B, T, I]" : "[T, B, I]", input_size_, x.shape());
  Variable seq = options_.batch_first ? x.transpose(0, 1) : x;
  const std::int64_t B = seq.size(1), D = options_.bidirectional ? 2 : 1, L = options_.num_layers;
  const int state_size = cells_.front()->state_size();
  if (!initial_state.empty()) {
    check(static_cast<int>(initial_state.size()) == state_size,
          "{}: the initial state has {} tensors, the {} cell needs {}", type_name(),
          initial_state.size(), cell_name_, state_size);
    for (const Variable& s : initial_state)
      check(s.defined() && s.dim() == 3 && s.size(0) == L * D && s.size(1) == B &&
                s.size(2) == hidden_size_,
            "{}: each initial state tensor must be [{}, {}, {}], got shape {}", type_name(), L * D,
            B, hidden_size_, s.defined() ? s.shape() : Dims{});
  }
  std::vector<std::vector<Variable>> finals(static_cast<std::size_t>(state_size));
  for (std::int64_t l = 0; l < L; ++l) {
    std::vector<Variable> directions;
    for (std::int64_t d = 0; d < D; ++d) {
      State s0;
      for (const Variable& s : initial_state) s0.push_back(s.select(0, l * D + d));
      auto r = cells_[static_cast<std::size_t>(l * D + d)]->run(seq, s0, lengths, d == 1);
      directions.push_back(r.output);
      for (int k = 0; k < state_size; ++k)
        finals[static_cast<std::size_t>(k)].push_back(r.state[static_cast<std::size_t>(k)]);
    }
    seq = D == 2 ? cat(directions, 2) : directions[0];
    if (options_.dropout > 0.0 && l + 1 < L && is_training())
      seq = functional::dropout(seq, options_.dropout, true, options_.gen);
  }
  RecurrentOutput out{options_.batch_first ? seq.transpose(0, 1) : seq, {}};
  for (const auto& f : finals) out.state.push_back(stack(f, 0));
  return out;
}

void Recurrent::train(bool on) {
  Module::train(on);
  for (auto& c : cells_) c->train(on);
}

std::string Recurrent::extra_repr() const {
  return fmt::format("{}, {}, {}, num_layers={}, bidirectional={}, dropout={}, batch_first={}",
                     cell_name_, input_size_, hidden_size_, options_.num_layers,
                     options_.bidirectional, options_.dropout, options_.batch_first);
}

namespace {
std::string rnn_cell(const std::string& nonlinearity) {
  check(nonlinearity == "tanh" || nonlinearity == "relu",
        "RNN: nonlinearity must be 'tanh' or 'relu', got '{}'", nonlinearity);
  return "rnn_" + nonlinearity;
}
}  // namespace

RNN::RNN(std::int64_t input_size, std::int64_t hidden_size, RecurrentOptions options,
         const std::string& nonlinearity)
    : Recurrent("RNN", rnn_cell(nonlinearity), input_size, hidden_size, options) {}

LSTM::LSTM(std::int64_t input_size, std::int64_t hidden_size, RecurrentOptions options)
    : Recurrent("LSTM", "lstm", input_size, hidden_size, options) {}

GRU::GRU(std::int64_t input_size, std::int64_t hidden_size, RecurrentOptions options)
    : Recurrent("GRU", "gru", input_size, hidden_size, options) {}

}  // namespace seqgrad::nn
