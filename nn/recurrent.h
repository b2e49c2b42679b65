// Multi-layer, optionally bidirectional recurrent networks over whole sequences, for any
// registered cell (nn/cell.h), with PyTorch's interface and parameter names:
//
//   nn::LSTM lstm(64, 256, {.num_layers = 2, .bidirectional = true});
//   auto [output, state] = lstm(x);      // x [T, B, 64]; output [T, B, 512]; state {h_n, c_n}
//   lstm.named_parameters()              // weight_ih_l0, weight_hh_l0, bias_ih_l0, ...,
//                                        // weight_ih_l1_reverse, ...
//
// Padded batches: pass each sequence's length. Outputs past a sequence's end are zero and its
// final state is the one at its own last step (what PyTorch's packed sequences give); the
// reverse direction starts at each sequence's own last element.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/cell.h"

namespace seqgrad::nn {

struct RecurrentOptions {
  std::int64_t num_layers = 1;
  bool bidirectional = false;
  double dropout = 0.0;  // on the outputs of every layer but the last, in training mode
  bool batch_first = false;
  DType dtype = kFloat32;
  Generator* gen = nullptr;  // initial weights and dropout masks; default_generator() when null
};

struct RecurrentOutput {
  Variable output;  // [T, B, D*H] ([B, T, D*H] when batch_first), D = 2 if bidirectional
  State state;      // final state, each tensor [num_layers * D, B, H]: {h_n} or {h_n, c_n}
};

class Recurrent : public Module {
 public:
  // `cell` is a registered cell name ("lstm", "gru", "gru_cho", "rnn_tanh", "mgu", ...).
  Recurrent(const std::string& cell, std::int64_t input_size, std::int64_t hidden_size,
            RecurrentOptions options = {});

  // x [T, B, I] ([B, T, I] when batch_first); initial_state as returned in RecurrentOutput::state
  // (empty: zeros); lengths per sequence in [0, T] (empty: all T).
  RecurrentOutput forward(const Variable& x, const State& initial_state = {},
                          const std::vector<std::int64_t>& lengths = {});
  RecurrentOutput operator()(const Variable& x, const State& initial_state = {},
                             const std::vector<std::int64_t>& lengths = {}) {
    return forward(x, initial_state, lengths);
  }

  void train(bool on = true) override;
  const std::string& cell_name() const { return cell_name_; }
  const RecurrentOptions& options() const { return options_; }
  std::int64_t hidden_size() const { return hidden_size_; }
  // Layer-major: cells()[layer * D + direction].
  const std::vector<std::shared_ptr<Cell>>& cells() const { return cells_; }
  std::string extra_repr() const override;

 protected:
  Recurrent(std::string type_name, const std::string& cell, std::int64_t input_size,
            std::int64_t hidden_size, RecurrentOptions options);

 private:
  std::string cell_name_;
  std::int64_t input_size_, hidden_size_;
  RecurrentOptions options_;
  std::vector<std::shared_ptr<Cell>> cells_;
};

// torch.nn.RNN: nonlinearity "tanh" or "relu".
class RNN : public Recurrent {
 public:
  RNN(std::int64_t input_size, std::int64_t hidden_size, RecurrentOptions options = {},
      const std::string& nonlinearity = "tanh");
};

class LSTM : public Recurrent {
 public:
  LSTM(std::int64_t input_size, std::int64_t hidden_size, RecurrentOptions options = {});
};

class GRU : public Recurrent {
 public:
  GRU(std::int64_t input_size, std::int64_t hidden_size, RecurrentOptions options = {});
};

}  // namespace seqgrad::nn
