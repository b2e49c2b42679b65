// to_dot: the recorded graph behind a variable as Graphviz DOT, for looking at what autograd saw.
// Render with `dot -Tpng graph.dot -o graph.png`.
#pragma once

#include <string>

#include "autograd/variable.h"

namespace seqgrad {
std::string to_dot(const Variable& root);
}
