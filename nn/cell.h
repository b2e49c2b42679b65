// The interface of a recurrent cell, and the registry that lets the sequence modules, the
// encoder-decoder models and the CLI build any cell by name.
//
// A cell is one step of a recurrence: state_t = step(x_t, state_{t-1}), where the state is one
// tensor [B, H] (RNN, GRU) or several (LSTM: h and c), and state[0] is what the step outputs.
// Writing step() from differentiable ops is all a new cell needs: autograd derives the backward
// pass, and run() (the loop over a sequence, with padding handled) comes for free. A cell with a
// fused kernel also overrides run() to process a whole sequence at once. docs/new-cell.md walks
// through both.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/module.h"

namespace seqgrad::nn {

using State = std::vector<Variable>;

class Cell : public Module {
 public:
  Cell(std::string type_name, std::int64_t input_size, std::int64_t hidden_size,
       int state_size = 1);

  std::int64_t input_size() const { return input_size_; }
  std::int64_t hidden_size() const { return hidden_size_; }
  int state_size() const { return state_size_; }  // tensors in the state (LSTM: 2)

  // One step: x [B, input_size] and the state (each [B, hidden_size]) -> the new state.
  virtual State step(const Variable& x, const State& state) = 0;
  State operator()(const Variable& x, const State& state) { return step(x, state); }

  // A whole sequence, time-first: x [T, B, input_size] from `state` (empty: zeros). Steps at
  // t >= lengths[b] leave sequence b's state unchanged and output zeros (empty lengths: all T).
  // reverse runs t = T-1 .. 0. Returns the outputs [T, B, H] and the final state.
  struct SequenceOutput {
    Variable output;
    State state;
  };
  virtual SequenceOutput run(const Variable& x, const State& state,
                             const std::vector<std::int64_t>& lengths = {}, bool reverse = false);

  State zero_state(std::int64_t batch, DType dtype) const;
  std::string extra_repr() const override;

 protected:
  // Checks x [T, B, input_size] and the state's shapes (error messages name the cell); returns
  // the state to start from (zeros when empty).
  State check_sequence(const Variable& x, const State& state,
                       const std::vector<std::int64_t>& lengths) const;

 private:
  std::int64_t input_size_, hidden_size_;
  int state_size_;
};

// --- registry
// -------------------------------------------------------------------------------------
struct CellConfig {
  std::int64_t input_size = 0, hidden_size = 0;
  DType dtype = kFloat32;
  Generator* gen = nullptr;  // for the initial weights; default_generator() when null
};
using CellFactory = std::function<std::shared_ptr<Cell>(const CellConfig&)>;

// Makes `name` available to make_cell (and so to the sequence modules, models and CLI). Built in:
// "rnn_tanh", "rnn_relu", "lstm", "gru", "gru_cho" (Cho et al.'s reset-before GRU) and "mgu".
void register_cell(const std::string& name, CellFactory factory);
std::shared_ptr<Cell> make_cell(const std::string& name, const CellConfig& config);
std::vector<std::string> cell_names();

}  // namespace seqgrad::nn
