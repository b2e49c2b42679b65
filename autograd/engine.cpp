#include "autograd/engine.h"

#include <atomic>
#include <vector>

#include "autograd/node.h"

namespace seqgrad {

Tensor sum_to(const Tensor& g, const Dims& shape, const char* op) {
  if (g.shape() == shape) return g;
  check(g.dim() >= shape.size(),
        "{}: gradient of shape {} cannot be summed to the input's shape {}", op, g.shape(), shape);
  const int lead = g.dim() - shape.size();
  Dims dims;
  for (int d = 0; d < g.dim(); ++d) {
    // Every kept dim must match (or be a broadcast 1): without this check a wrong-shaped gradient
    // with the right element count ([3, 2] for a [2, 3] input) was silently reshaped.
    check(d < lead || shape[d - lead] == 1 || g.size(d) == shape[d - lead],
          "{}: gradient of shape {} cannot be summed to the input's shape {}", op, g.shape(),
          shape);
    if (d < lead || (shape[d - lead] == 1 && g.size(d) != 1)) dims.push_back(d);
  }
  Tensor s = dims.empty() ? g : sum(g, dims, /*keepdim=*/true);
  return s.reshape(shape);
}

Node::~Node() {
  std::vector<std::shared_ptr<Node>> orphans;
  auto adopt = [&](Node& n) {
    for (Edge& e : n.inputs)
      if (e.node && e.node.use_count() == 1) orphans.push_back(std::move(e.node));
  };
  adopt(*this);
  while (!orphans.empty()) {
    std::shared_ptr<Node> n = std::move(orphans.back());
    orphans.pop_back();
    adopt(*n);  // n's own destructor then finds nothing left to recurse into
  }
}

// ----------------------------------------------------------------------------------------------
// Recording

namespace detail {

Edge edge_to(const Variable& input) {
  Edge e;
  e.shape = input.shape();
  e.dtype = input.dtype();
  if (!input.requires_grad()) return e;
  if (input.grad_fn()) {
    e.node = input.grad_fn();
    e.output = input.output_nr();
  } else {
    e.leaf = input.impl_ptr();
  }
  return e;
}

namespace {

std::shared_ptr<Node> make_node(const char* op, EdgeList inputs, BackwardFn backward,
                                std::initializer_list<Tensor> saved) {
  auto node = std::allocate_shared<Node>(PoolAllocator<Node>());
  node->op = op;
  node->inputs = std::move(inputs);
  node->saved.reserve(saved.size());
  for (const Tensor& t : saved) node->saved.push_back({t, t.version()});
  node->backward = std::move(backward);
  if (AnomalyMode::is_enabled()) node->trace = capture_creation_trace();
  return node;
}

// Output `nr` of `node`: it requires grad because an input does; it is not a leaf.
Variable output_of(const std::shared_ptr<Node>& node, std::uint32_t nr, Tensor value) {
  node->outputs.push_back({value.shape(), value.dtype(), Tensor()});
  if (AnomalyMode::is_enabled()) check_forward_output(*node, value);
  Variable out(std::move(value), /*requires_grad=*/false);
  auto* impl = const_cast<VariableImpl*>(out.impl());
  impl->requires_grad = true;
  impl->grad_fn = node;
  impl->output_nr = nr;
  return out;
}

}  // namespace

Variable attach(const char* op, Tensor value, EdgeList inputs, BackwardFn backward,
                std::initializer_list<Tensor> saved) {
  const auto node = make_node(op, std::move(inputs), std::move(backward), saved);
  node->outputs.reserve(1);
  return output_of(node, 0, std::move(value));
}

std::vector<Variable> attach_outputs(const char* op, std::vector<Tensor> values, EdgeList inputs,
                                     BackwardFn backward, std::initializer_list<Tensor> saved) {
  const auto node = make_node(op, std::move(inputs), std::move(backward), saved);
  node->outputs.reserve(values.size());
  std::vector<Variable> out;
  for (std::size_t i = 0; i < values.size(); ++i)
    out.push_back(output_of(node, static_cast<std::uint32_t>(i), std::move(values[i])));
  return out;
}

}  // namespace detail

Variable record_many(const char* op, Tensor value, const std::vector<Variable>& inputs,
                     BackwardFn backward, std::initializer_list<Tensor> saved) {
  auto edges = detail::edges_if_recording(inputs);
  if (!edges) return Variable(std::move(value));
  return detail::attach(op, std::move(value), std::move(*edges), std::move(backward), saved);
}

// ----------------------------------------------------------------------------------------------
// Accumulation

void GradSlots::accumulate(int i, Tensor g) {
  Edge& e = edges_[i];
  if (!e.needed()) return;
  if (AnomalyMode::is_enabled()) detail::check_backward_gradient(op_, node_, i, g);
  check(g.dtype() == e.dtype, "{} backward: gradient dtype {} does not match input dtype {}", op_,
        g.dtype(), e.dtype);
  if (!(g.shape() == e.shape)) g = sum_to(g, e.shape, op_);
  if (e.node) {
    // Intermediate gradients are never modified in place, so sharing storage here is safe.
    Tensor& acc = e.node->outputs[e.output].grad;
    acc = acc.defined() ? acc + g : g;
    return;
  }
  // A leaf's .grad is the user's: it must own contiguous memory (clip_grad_norm_ scales it in
  // place), and later backward passes accumulate into it in place, as PyTorch does.
  Tensor& acc = e.leaf->grad;
  if (acc.defined()) {
    acc.add_(g);
  } else if (g.is_contiguous() && g.storage().use_count() == 1 && g.offset() == 0 &&
             g.storage()->nbytes() == static_cast<std::size_t>(g.numel()) * itemsize(g.dtype())) {
    acc = g;  // a fresh temporary nobody else holds: take it
  } else {
    acc = g.clone();
  }
}

// ----------------------------------------------------------------------------------------------
// The backward pass

namespace {

std::atomic<std::uint64_t> next_mark{1};

// Nodes reachable from root, inputs before the ops that consume them (iterative DFS post-order,
// so a 10,000-step chain needs no deep recursion).
std::vector<Node*> topological_order(Node* root) {
  const std::uint64_t mark = next_mark++;
  std::vector<Node*> order;
  std::vector<std::pair<Node*, std::size_t>> stack;
  root->visit_mark = mark;
  stack.emplace_back(root, 0);
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      Node* child = node->inputs[next++].node.get();
      if (child && child->visit_mark != mark) {
        child->visit_mark = mark;
        stack.emplace_back(child, 0);  // invalidates node/next; not used again this round
      }
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  return order;
}

void check_saved_versions(const Node& node) {
  for (std::size_t i = 0; i < node.saved.size(); ++i) {
    const SavedTensor& s = node.saved[i];
    check(s.tensor.version() == s.version,
          "backward: a tensor of shape {} saved by '{}' for its backward was modified in place "
          "afterwards (version {} when saved, {} now), so its gradient would be wrong; clone the "
          "tensor before modifying it, or modify it after backward()",
          s.tensor.shape(), node.op, s.version, s.tensor.version());
  }
}

bool received_gradient(const Node& node) {
  for (const NodeOutput& o : node.outputs)
    if (o.grad.defined()) return true;
  return false;
}

// Calls the node's backward with one gradient per output and clears them. An output that no path
// from the root reached gets zeros, so a multi-output backward need not special-case it.
void run_node_backward(Node& node, GradSlots& slots) {
  if (node.outputs.size() == 1) {
    node.backward(std::span<const Tensor>(&node.outputs[0].grad, 1), slots);
    node.outputs[0].grad = Tensor();
    return;
  }
  std::vector<Tensor> grads;
  grads.reserve(node.outputs.size());
  for (NodeOutput& o : node.outputs) {
    grads.push_back(o.grad.defined() ? std::move(o.grad) : zeros(o.shape, o.dtype));
    o.grad = Tensor();
  }
  node.backward(grads, slots);
}

}  // namespace

void run_backward(const Variable& root, const Tensor& gradient, bool retain_graph) {
  check(root.defined(), "backward: the variable is undefined");
  check(root.requires_grad(),
        "backward: the tensor of shape {} does not require grad and has no grad_fn", root.shape());
  Tensor seed = gradient;
  if (!seed.defined()) {
    check(root.numel() == 1,
          "backward: grad can be implicitly created only for one-element outputs; got shape {}, "
          "pass a gradient of that shape",
          root.shape());
    seed = ones(root.shape(), root.dtype());
  }
  check(seed.shape() == root.shape() && seed.dtype() == root.dtype(),
        "backward: gradient of shape {} and dtype {} does not match the output's {} {}",
        seed.shape(), seed.dtype(), root.shape(), root.dtype());

  if (root.is_leaf()) {  // backward on a leaf just accumulates the seed
    EdgeList edge{detail::edge_to(root)};
    GradSlots("backward", edge)[0] += seed;
    return;
  }

  Node* top = root.grad_fn().get();
  check(!top->freed,
        "backward: trying to backward through the graph a second time ('{}' was already freed); "
        "pass retain_graph=true to the first backward() if you need to",
        top->op);
  const std::vector<Node*> order = topological_order(top);
  top->outputs[root.output_nr()].grad = seed;
  try {
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      Node& node = **it;
      if (received_gradient(node)) {
        check(!node.freed,
              "backward: trying to backward through the graph a second time ('{}' was already "
              "freed); pass retain_graph=true to the first backward() if you need to",
              node.op);
        check_saved_versions(node);
        GradSlots slots(node.op, node.inputs, &node);
        run_node_backward(node, slots);
      }
      if (!retain_graph) {
        node.backward = nullptr;  // frees the captured tensors
        node.saved.clear();
        node.freed = true;
      }
    }
  } catch (...) {
    // A pass that throws half-way has already sent gradients to nodes it did not reach; left
    // there, they would be added to the next backward() through those nodes.
    for (Node* node : order)
      for (NodeOutput& o : node->outputs) o.grad = Tensor();
    throw;
  }
}

void Variable::backward(const Tensor& gradient, bool retain_graph) const {
  run_backward(*this, gradient, retain_graph);
}

}  // namespace seqgrad
