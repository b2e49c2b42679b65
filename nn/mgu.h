// The Minimal Gated Unit (Zhou, Wu, Zhang and Zhou, 2016): a GRU with one gate instead of two.
//   f  = σ(W_f x + U_f h + b_f)
//   h~ = tanh(W_h x + U_h (f ⊙ h) + b_h)
//   h' = (1 - f) ⊙ h + f ⊙ h~
// The worked example of docs/new-cell.md: step() composes differentiable ops, so there is no
// backward code, and the inherited Cell::run() handles sequences, padding and direction.
#pragma once

#include "nn/cell.h"

namespace seqgrad::nn {

class MGUCell : public Cell {
 public:
  explicit MGUCell(const CellConfig& config);
  State step(const Variable& x, const State& state) override;
  Variable weight_ih;  // [2H, I]: rows W_f, then W_h
  Variable weight_hh;  // [2H, H]: rows U_f, then U_h
  Variable bias;       // [2H]:    b_f, then b_h
};

}  // namespace seqgrad::nn
