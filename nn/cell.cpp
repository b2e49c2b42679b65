#include "nn/cell.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "nn/cells.h"
#include "nn/mgu.h"

namespace seqgrad::nn {

Cell::Cell(std::string type_name, std::int64_t input_size, std::int64_t hidden_size, int state_size)
    : Module(std::move(type_name)),
      input_size_(input_size),
      hidden_size_(hidden_size),
      state_size_(state_size) {
  check(input_size > 0 && hidden_size > 0 && state_size > 0,
        "{}: input_size, hidden_size and state_size must be positive, got {}, {}, {}",
        this->type_name(), input_size, hidden_size, state_size);
}

State Cell::zero_state(std::int64_t batch, DType dtype) const {
  State s;
  for (int k = 0; k < state_size_; ++k) s.emplace_back(zeros({batch, hidden_size_}, dtype));
  return s;
}

std::string Cell::extra_repr() const { return fmt::format("{}, {}", input_size_, hidden_size_); }

State Cell::check_sequence(const Variable& x, const State& state,
                           const std::vector<std::int64_t>& lengths) const {
  check(x.dim() == 3 && x.size(2) == input_size_,
        "{}: input must be [T, B, {}] (time-first), got shape {}", type_name(), input_size_,
        x.shape());
  const std::int64_t T = x.size(0), B = x.size(1);
  check(lengths.empty() || static_cast<std::int64_t>(lengths.size()) == B,
        "{}: {} lengths given for a batch of {}", type_name(), lengths.size(), B);
  for (const std::int64_t len : lengths)
    check(len >= 0 && len <= T, "{}: length {} is outside [0, {}]", type_name(), len, T);
  if (state.empty()) return zero_state(B, x.dtype());
  check(static_cast<int>(state.size()) == state_size_, "{}: the state has {} tensors, expected {}",
        type_name(), state.size(), state_size_);
  for (const Variable& s : state)
    check(s.defined() && s.dim() == 2 && s.size(0) == B && s.size(1) == hidden_size_,
          "{}: each state tensor must be [{}, {}], got shape {}", type_name(), B, hidden_size_,
          s.defined() ? s.shape() : Dims{});
  return state;
}

// The generic loop: one step() per time step. Where some sequences have ended, their state is
// carried over with where() and their output zeroed, so that autograd sees exactly what happened.
Cell::SequenceOutput Cell::run(const Variable& x, const State& state,
                               const std::vector<std::int64_t>& lengths, bool reverse) {
  State s = check_sequence(x, state, lengths);
  const std::int64_t T = x.size(0), B = x.size(1);
  if (T == 0) return {Variable(zeros({0, B, hidden_size_}, x.dtype())), s};  // as the fused cells
  const Tensor len = lengths.empty() ? Tensor() : from_vector(lengths, {B, 1});
  const std::int64_t shortest =
      lengths.empty() ? T : *std::min_element(lengths.begin(), lengths.end());
  std::vector<Variable> outputs(static_cast<std::size_t>(T));
  for (std::int64_t i = 0; i < T; ++i) {
    const std::int64_t t = reverse ? T - 1 - i : i;
    State next = step(x.select(0, t), s);
    check(static_cast<int>(next.size()) == state_size_,
          "{}: step() returned {} state tensors, expected {}", type_name(), next.size(),
          state_size_);
    if (t >= shortest) {  // some sequence has ended
      const Tensor live = ge(len, static_cast<double>(t + 1));
      for (std::size_t k = 0; k < next.size(); ++k) next[k] = where(live, next[k], s[k]);
      outputs[static_cast<std::size_t>(t)] = masked_fill(next[0], logical_not(live), 0.0);
    } else {
      outputs[static_cast<std::size_t>(t)] = next[0];
    }
    s = std::move(next);
  }
  return {stack(outputs, 0), s};
}

namespace {

std::map<std::string, CellFactory>& registry() {
  using functional::GruReset;
  using functional::RnnActivation;
  static std::map<std::string, CellFactory> cells = {
      {"rnn_tanh",
       [](const CellConfig& c) { return std::make_shared<RNNCell>(c, RnnActivation::Tanh); }},
      {"rnn_relu",
       [](const CellConfig& c) { return std::make_shared<RNNCell>(c, RnnActivation::Relu); }},
      {"lstm", [](const CellConfig& c) { return std::make_shared<LSTMCell>(c); }},
      {"gru", [](const CellConfig& c) { return std::make_shared<GRUCell>(c, GruReset::After); }},
      {"gru_cho",
       [](const CellConfig& c) { return std::make_shared<GRUCell>(c, GruReset::Before); }},
      {"mgu", [](const CellConfig& c) { return std::make_shared<MGUCell>(c); }},
  };
  return cells;
}

std::mutex registry_mutex;

}  // namespace

void register_cell(const std::string& name, CellFactory factory) {
  check(!name.empty() && factory != nullptr, "register_cell: need a name and a factory");
  std::lock_guard lock(registry_mutex);
  check(registry().emplace(name, std::move(factory)).second,
        "register_cell: a cell named '{}' is already registered", name);
}

std::shared_ptr<Cell> make_cell(const std::string& name, const CellConfig& config) {
  CellFactory factory;
  {
    std::lock_guard lock(registry_mutex);
    const auto it = registry().find(name);
    if (it != registry().end()) factory = it->second;
  }
  check(factory != nullptr, "make_cell: unknown cell '{}' (registered: {})", name,
        fmt::join(cell_names(), ", "));
  return factory(config);
}

std::vector<std::string> cell_names() {
  std::lock_guard lock(registry_mutex);
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry()) names.push_back(name);
  return names;
}

}  // namespace seqgrad::nn
