// The backward engine: one iterative topological sort from the outputs, then every node's backward
// in reverse order. Variable::backward() accumulates into the leaves' .grad; grad() returns the
// gradients of chosen inputs and, with create_graph, records the backward pass itself so that its
// results can be differentiated again. See docs/autograd.md.
#pragma once

#include <optional>
#include <vector>

#include "autograd/variable.h"

namespace seqgrad {

// Sums `g` over the dims that broadcasting added or expanded, so that it has `shape`. Throws,
// naming `op`, when g's shape does not broadcast from `shape`.
Tensor sum_to(const Tensor& g, const Dims& shape, const char* op = "sum_to");
Variable sum_to(const Variable& g, const Dims& shape, const char* op = "sum_to");

void run_backward(const Variable& root, const Tensor& gradient, bool retain_graph);

struct GradOptions {
  // Keep the graph for another backward pass; unset means create_graph (as in PyTorch).
  std::optional<bool> retain_graph = std::nullopt;
  // Record the backward pass, so the returned gradients can be differentiated again.
  bool create_graph = false;
  // An input the outputs do not depend on gets an undefined Variable instead of an error.
  bool allow_unused = false;
};

// torch.autograd.grad: the gradients of sum_k <outputs[k], grad_outputs[k]> with respect to each
// input, returned rather than accumulated into .grad (no leaf's .grad changes). grad_outputs may
// be empty when every output has one element (then 1 each); they may themselves require grad.
// Without create_graph the results are constants; with it they carry their own graph.
std::vector<Variable> grad(const std::vector<Variable>& outputs,
                           const std::vector<Variable>& inputs,
                           const std::vector<Variable>& grad_outputs = {},
                           const GradOptions& options = {});

}  // namespace seqgrad
