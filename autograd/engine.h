// The backward engine: one iterative topological sort from the root, then every node's backward
// in reverse order. Declared here for Variable::backward and for readers; see docs/autograd.md.
#pragma once

#include "autograd/variable.h"

namespace seqgrad {

// Sums `g` over the dims that broadcasting added or expanded, so that it has `shape`. Throws,
// naming `op`, when g's shape does not broadcast from `shape`.
Tensor sum_to(const Tensor& g, const Dims& shape, const char* op = "sum_to");

void run_backward(const Variable& root, const Tensor& gradient, bool retain_graph);

}  // namespace seqgrad
