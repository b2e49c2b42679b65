// PyTorch's recurrent cells with its equations, parameter names and weight layout
// (weight_ih [G*H, I], weight_hh [G*H, H], bias_ih, bias_hh [G*H]; LSTM gates i, f, g, o; GRU gates
// r, z, n), all initialised U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch. Each runs on the fused
// sequence kernels of nn/functional.h; nn/cells_composed.h has the same equations in primitive ops.
#pragma once

#include "nn/cell.h"
#include "nn/functional.h"

namespace seqgrad::nn {

// The parameters every built-in cell has; bias=false gives undefined biases (zeros in the kernels).
class GatedCell : public Cell {
 public:
  GatedCell(std::string type_name, std::int64_t gates, const CellConfig& config, bool bias,
            int state_size);
  Variable weight_ih, weight_hh, bias_ih, bias_hh;

 protected:
  // x W_ih^T + b_ih for x [T, B, I], computed at the live positions only (zeros at the padding).
  Variable input_projection(const Variable& x, const std::vector<std::int64_t>& lengths) const;
  Variable recurrent_bias() const;  // b_hh, or zeros when bias=false
  std::int64_t gates_;
};

// h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)
class RNNCell : public GatedCell {
 public:
  RNNCell(const CellConfig& config, functional::RnnActivation activation = {}, bool bias = true);
  State step(const Variable& x, const State& state) override;
  SequenceOutput run(const Variable& x, const State& state,
                     const std::vector<std::int64_t>& lengths = {}, bool reverse = false) override;
  functional::RnnActivation activation;
};

// State {h, c}.
class LSTMCell : public GatedCell {
 public:
  explicit LSTMCell(const CellConfig& config, bool bias = true);
  State step(const Variable& x, const State& state) override;
  SequenceOutput run(const Variable& x, const State& state,
                     const std::vector<std::int64_t>& lengths = {}, bool reverse = false) override;
};

// reset = After is PyTorch's GRUCell; Before is the original of Cho et al. (2014, sec. 2.3).
class GRUCell : public GatedCell {
 public:
  explicit GRUCell(const CellConfig& config, functional::GruReset reset = {}, bool bias = true);
  State step(const Variable& x, const State& state) override;
  SequenceOutput run(const Variable& x, const State& state,
                     const std::vector<std::int64_t>& lengths = {}, bool reverse = false) override;
  std::string extra_repr() const override;
  functional::GruReset reset;
};

}  // namespace seqgrad::nn
