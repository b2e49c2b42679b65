#include "autograd/dot.h"

#include <unordered_map>
#include <vector>

#include "autograd/node.h"

namespace seqgrad {

namespace {
// Names are user text: quote characters and backslashes would end the DOT label early.
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}
}  // namespace

std::string to_dot(const Variable& root) {
  check(root.defined(), "to_dot: the variable is undefined");
  std::string out = "digraph autograd {\n  rankdir=BT;\n  node [fontname=\"Helvetica\"];\n";
  std::unordered_map<const void*, int> ids;
  auto id_of = [&](const void* p, bool& is_new) {
    auto [it, inserted] = ids.emplace(p, static_cast<int>(ids.size()));
    is_new = inserted;
    return it->second;
  };
  auto leaf_label = [](const VariableImpl& v) {
    return fmt::format("{}\\n{} {}", v.name.empty() ? "leaf" : escape(v.name), v.value.shape(),
                       v.value.dtype());
  };

  bool is_new = false;
  if (root.is_leaf()) {
    const int id = id_of(root.impl(), is_new);
    out += fmt::format("  n{} [shape=box, style=filled, fillcolor=lightblue, label=\"{}\"];\n", id,
                       leaf_label(*root.impl()));
    return out + "}\n";
  }
  // Walk the nodes iteratively (graphs can be deep).
  std::vector<Node*> stack{root.grad_fn().get()};
  id_of(stack.back(), is_new);
  const std::string root_name = root.name().empty() ? "" : escape(root.name()) + " = ";
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    const int id = ids.at(node);
    // A node with several outputs lists their shapes; an edge from it names the output used.
    std::string shapes;
    for (const NodeOutput& o : node->outputs)
      shapes += fmt::format("{}{}", shapes.empty() ? "" : ", ", o.shape);
    out += fmt::format("  n{} [shape=ellipse, label=\"{}{}\\n{}\"];\n", id,
                       node == root.grad_fn().get() ? root_name : "", node->op, shapes);
    for (const Edge& e : node->inputs) {
      if (e.node) {
        const int child = id_of(e.node.get(), is_new);
        if (is_new) stack.push_back(e.node.get());
        if (e.node->outputs.size() > 1)
          out += fmt::format("  n{} -> n{} [label=\"{}\"];\n", child, id, e.output);
        else
          out += fmt::format("  n{} -> n{};\n", child, id);
      } else if (e.leaf) {
        const int child = id_of(e.leaf.get(), is_new);
        if (is_new)
          out +=
              fmt::format("  n{} [shape=box, style=filled, fillcolor=lightblue, label=\"{}\"];\n",
                          child, leaf_label(*e.leaf));
        out += fmt::format("  n{} -> n{};\n", child, id);
      }
    }
  }
  return out + "}\n";
}

}  // namespace seqgrad
