#include "autograd/engine.h"

#include <algorithm>
#include <atomic>
#include <unordered_set>
#include <vector>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace seqgrad {

namespace {
// The dims of a gradient of shape `g` to sum so that it has `shape` (kept, as size 1).
Dims broadcast_dims(const Dims& g, const Dims& shape, const char* op) {
  check(g.size() >= shape.size(),
        "{}: gradient of shape {} cannot be summed to the input's shape {}", op, g, shape);
  const int lead = g.size() - shape.size();
  Dims dims;
  for (int d = 0; d < g.size(); ++d) {
    // Every kept dim must match (or be a broadcast 1): without this check a wrong-shaped gradient
    // with the right element count ([3, 2] for a [2, 3] input) was silently reshaped.
    check(d < lead || shape[d - lead] == 1 || g[d] == shape[d - lead],
          "{}: gradient of shape {} cannot be summed to the input's shape {}", op, g, shape);
    if (d < lead || (shape[d - lead] == 1 && g[d] != 1)) dims.push_back(d);
  }
  return dims;
}
}  // namespace

Tensor sum_to(const Tensor& g, const Dims& shape, const char* op) {
  if (g.shape() == shape) return g;
  const Dims dims = broadcast_dims(g.shape(), shape, op);
  Tensor s = dims.empty() ? g : sum(g, dims, /*keepdim=*/true);
  return s.reshape(shape);
}

Variable sum_to(const Variable& g, const Dims& shape, const char* op) {
  if (g.shape() == shape) return g;
  const Dims dims = broadcast_dims(g.shape(), shape, op);
  Variable s = dims.empty() ? g : sum(g, dims, /*keepdim=*/true);
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
  node->outputs.push_back({value.shape(), value.dtype(), Tensor(), Variable()});
  if (AnomalyMode::is_enabled()) check_forward_output(*node, value);
  return as_output(node, nr, std::move(value));
}

}  // namespace

Variable as_output(const std::shared_ptr<Node>& node, std::uint32_t nr, Tensor value) {
  Variable out(std::move(value), /*requires_grad=*/false);
  auto* impl = const_cast<VariableImpl*>(out.impl());
  impl->requires_grad = true;
  impl->grad_fn = node;
  impl->output_nr = nr;
  return out;
}

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

namespace {

// A node output's pending gradient: a tensor on the fast path, a Variable under create_graph.
template <class G>
G& pending(NodeOutput& o) {
  if constexpr (std::is_same_v<G, Tensor>)
    return o.grad;
  else
    return o.graph_grad;
}

const Tensor& tensor_of(const Tensor& g) { return g; }
const Tensor& tensor_of(const Variable& g) { return g.value(); }

template <class G>
void add_to(G& acc, G g) {
  acc = acc.defined() ? acc + g : std::move(g);
}

}  // namespace

template <class G>
void BasicGradSlots<G>::accumulate(int i, G g) {
  Edge& e = edges_[i];
  if (!e.needed()) return;
  if (AnomalyMode::is_enabled()) detail::check_backward_gradient(op_, node_, i, tensor_of(g));
  check(tensor_of(g).dtype() == e.dtype,
        "{} backward: gradient dtype {} does not match input dtype {}", op_, tensor_of(g).dtype(),
        e.dtype);
  if (!(tensor_of(g).shape() == e.shape)) g = sum_to(g, e.shape, op_);
  if (collect_) {
    add_to(collect_[i], std::move(g));
  } else if (e.node) {
    // Intermediate gradients are never modified in place, so sharing storage here is safe.
    add_to(pending<G>(e.node->outputs[e.output]), std::move(g));
  } else if (sink_) {  // grad(): only the leaves asked for receive anything
    for (std::size_t k = 0; k < sink_->leaves.size(); ++k)
      if (sink_->leaves[k] == e.leaf.get()) add_to(sink_->grads[k], g);
  } else if constexpr (std::is_same_v<G, Tensor>) {
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
  } else {
    check(false, "{} backward: a recorded backward pass reached a leaf without grad()", op_);
  }
}

template <class G>
G BasicGradSlots<G>::output(const Tensor& y, std::uint32_t nr) const {
  if constexpr (std::is_same_v<G, Tensor>) {
    return y;
  } else {
    check(self_ != nullptr, "{} backward: output() needs the node", op_);
    return detail::as_output(*self_, nr, y);
  }
}

template class BasicGradSlots<Tensor>;
template class BasicGradSlots<Variable>;

// ----------------------------------------------------------------------------------------------
// The backward pass

namespace {

std::atomic<std::uint64_t> next_mark{1};

// Nodes are held through the shared_ptr that owns them (in a consumer's edge, or the root's
// grad_fn), so that a recorded pass can attach new Variables to them; the graph keeps them alive.
using NodeRef = const std::shared_ptr<Node>*;

// Nodes reachable from the roots, inputs before the ops that consume them (iterative DFS
// post-order, so a 10,000-step chain needs no deep recursion).
std::vector<NodeRef> topological_order(const std::vector<NodeRef>& roots) {
  const std::uint64_t mark = next_mark++;
  std::vector<NodeRef> order;
  std::vector<std::pair<NodeRef, std::size_t>> stack;
  for (NodeRef root : roots) {
    if ((*root)->visit_mark == mark) continue;
    (*root)->visit_mark = mark;
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto& [ref, next] = stack.back();
      Node& node = **ref;
      if (next < node.inputs.size()) {
        const std::shared_ptr<Node>& child = node.inputs[next++].node;
        if (child && child->visit_mark != mark) {
          child->visit_mark = mark;
          stack.emplace_back(&child, 0);  // invalidates ref/next; not used again this round
        }
      } else {
        order.push_back(ref);
        stack.pop_back();
      }
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

template <class G>
bool received_gradient(Node& node) {
  for (NodeOutput& o : node.outputs)
    if (pending<G>(o).defined()) return true;
  return false;
}

void clear_pending(Node& node) {
  for (NodeOutput& o : node.outputs) {
    o.grad = Tensor();
    o.graph_grad = Variable();
  }
}

// Calls the node's backward with one gradient per output and clears them. An output that no path
// from the root reached gets zeros, so a multi-output backward need not special-case it.
void run_node_backward(const std::shared_ptr<Node>& owner, GradSink<Tensor>* sink) {
  Node& node = *owner;
  GradSlots slots(node.op, node.inputs, &node, sink, &owner);
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

// A gradient computed by a first-order-only op under create_graph: the right value, on a node
// whose backward refuses, naming the op, so that only differentiating *through* it fails.
Variable first_order_only_result(const Node& node, Tensor value, const std::vector<Variable>& gys) {
  EdgeList edges = node.inputs;
  for (const Variable& gy : gys) edges.push_back(detail::edge_to(gy));
  bool any = false;
  for (const Edge& e : edges) any = any || e.needed();
  if (!any) return Variable(std::move(value));
  const char* op = node.op;
  return detail::attach(
      op, std::move(value), std::move(edges),
      [op](std::span<const Tensor>, GradSlots&) {
        check(false,
              "backward: '{}' is first-order only: its backward is a fused kernel written for "
              "tensors, so the gradient it computed cannot be differentiated again (see "
              "docs/autograd.md, \"Which ops are twice differentiable\")",
              op);
      },
      {});
}

// The recorded pass: the op's formula on Variables when it is written generically; otherwise its
// tensor formula, with results that refuse to be differentiated again.
void run_node_backward(const std::shared_ptr<Node>& owner, GradSink<Variable>* sink) {
  Node& node = *owner;
  GraphGradSlots slots(node.op, node.inputs, &node, sink, &owner);
  if (node.outputs.size() == 1 && node.backward.can_create_graph()) {
    const Variable gy = std::move(node.outputs[0].graph_grad);
    node.outputs[0].graph_grad = Variable();
    node.backward(gy, slots);
    return;
  }
  std::vector<Variable> gys;
  std::vector<Tensor> values;
  for (NodeOutput& o : node.outputs) {
    values.push_back(o.graph_grad.defined() ? o.graph_grad.value() : zeros(o.shape, o.dtype));
    if (o.graph_grad.defined()) gys.push_back(std::move(o.graph_grad));
    o.graph_grad = Variable();
  }
  std::vector<Tensor> collected(node.inputs.size());
  GradSlots tensor_slots(node.op, node.inputs, &node, nullptr, nullptr, collected.data());
  node.backward(values, tensor_slots);
  for (std::size_t i = 0; i < collected.size(); ++i)
    if (collected[i].defined())
      slots[static_cast<int>(i)] += first_order_only_result(node, std::move(collected[i]), gys);
}

// Captures the pending gradients of the non-leaf inputs grad() asked for that `node` produced.
template <class G>
void capture_outputs(Node& node, GradSink<G>& sink) {
  for (std::size_t k = 0; k < sink.nodes.size(); ++k)
    if (sink.nodes[k].first == &node) {
      G& g = pending<G>(node.outputs[sink.nodes[k].second]);
      if (g.defined()) add_to(sink.grads[k], g);
    }
}

// Runs the backward of every node in `order` (last first) that received a gradient and, when
// `runs` is given, is in it (grad() prunes the nodes that lead to none of its inputs).
template <class G>
void run_pass(const std::vector<NodeRef>& order, GradSink<G>* sink, bool retain_graph,
              const std::unordered_set<const Node*>* runs) {
  try {
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      const std::shared_ptr<Node>& owner = **it;
      Node& node = *owner;
      if (sink) capture_outputs(node, *sink);
      if (received_gradient<G>(node) && (!runs || runs->count(&node))) {
        check(!node.freed,
              "backward: trying to backward through the graph a second time ('{}' was already "
              "freed); pass retain_graph=true to the first backward() if you need to",
              node.op);
        check_saved_versions(node);
        run_node_backward(owner, sink);
      } else if (runs) {
        clear_pending(node);
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
    for (NodeRef ref : order) clear_pending(**ref);
    throw;
  }
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
  const std::vector<NodeRef> order = topological_order({&root.grad_fn()});
  top->outputs[root.output_nr()].grad = seed;
  run_pass<Tensor>(order, nullptr, retain_graph, nullptr);
}

void Variable::backward(const Tensor& gradient, bool retain_graph) const {
  run_backward(*this, gradient, retain_graph);
}

// ----------------------------------------------------------------------------------------------
// grad()

namespace {

template <class G>
G as_gradient(const Variable& v) {
  if constexpr (std::is_same_v<G, Tensor>)
    return v.value();
  else
    return v;
}

template <class G>
std::vector<Variable> grad_pass(const std::vector<Variable>& outputs,
                                const std::vector<Variable>& inputs,
                                const std::vector<Variable>& seeds, const GradOptions& options,
                                bool retain_graph) {
  GradSink<G> sink;
  for (const Variable& x : inputs) {
    sink.leaves.push_back(x.is_leaf() ? x.impl() : nullptr);
    sink.nodes.emplace_back(x.is_leaf() ? nullptr : x.grad_fn().get(), x.output_nr());
  }
  sink.grads.resize(inputs.size());

  std::vector<NodeRef> roots;
  for (const Variable& y : outputs)
    if (!y.is_leaf()) roots.push_back(&y.grad_fn());
  const std::vector<NodeRef> order = topological_order(roots);

  // A node runs when one of its inputs leads to an input of grad() (order: inputs first).
  std::unordered_set<const Node*> runs, captured;
  for (const auto& [node, nr] : sink.nodes)
    if (node) captured.insert(node);
  for (NodeRef ref : order) {
    const Node& node = **ref;
    for (const Edge& e : node.inputs) {
      const bool leads =
          e.node ? runs.count(e.node.get()) || captured.count(e.node.get())
                 : std::count(sink.leaves.begin(), sink.leaves.end(), e.leaf.get()) > 0 &&
                       e.leaf != nullptr;
      if (leads) {
        runs.insert(&node);
        break;
      }
    }
  }

  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const Variable& y = outputs[k];
    G seed = as_gradient<G>(seeds[k]);
    if (y.is_leaf()) {  // an output that is an input: its gradient is the seed
      for (std::size_t i = 0; i < inputs.size(); ++i)
        if (sink.leaves[i] == y.impl()) add_to(sink.grads[i], seed);
      continue;
    }
    check(!y.grad_fn()->freed,
          "grad: trying to backward through the graph a second time ('{}' was already freed); "
          "pass retain_graph=true to the first backward() or grad() if you need to",
          y.grad_fn()->op);
    add_to(pending<G>(y.grad_fn()->outputs[y.output_nr()]), std::move(seed));
  }
  run_pass<G>(order, &sink, retain_graph, &runs);

  std::vector<Variable> result;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    check(sink.grads[i].defined() || options.allow_unused,
          "grad: input {} (shape {}) was not used to compute the outputs; pass allow_unused=true "
          "to get an undefined gradient for it",
          i, inputs[i].shape());
    if constexpr (std::is_same_v<G, Tensor>)
      result.push_back(sink.grads[i].defined() ? Variable(sink.grads[i]) : Variable());
    else
      result.push_back(sink.grads[i]);
  }
  return result;
}

}  // namespace

std::vector<Variable> grad(const std::vector<Variable>& outputs,
                           const std::vector<Variable>& inputs,
                           const std::vector<Variable>& grad_outputs, const GradOptions& options) {
  check(!outputs.empty() && !inputs.empty(), "grad: needs at least one output and one input");
  check(grad_outputs.empty() || grad_outputs.size() == outputs.size(),
        "grad: {} grad_outputs for {} outputs", grad_outputs.size(), outputs.size());
  std::vector<Variable> seeds;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const Variable& y = outputs[k];
    check(y.defined() && y.requires_grad(),
          "grad: output {} does not require grad and has no grad_fn", k);
    if (grad_outputs.empty() || !grad_outputs[k].defined()) {
      check(y.numel() == 1,
            "grad: grad_outputs can be implicitly created only for one-element outputs; output "
            "{} has shape {}",
            k, y.shape());
      seeds.emplace_back(ones(y.shape(), y.dtype()));
    } else {
      const Variable& g = grad_outputs[k];
      check(g.shape() == y.shape() && g.dtype() == y.dtype(),
            "grad: grad_outputs[{}] of shape {} and dtype {} does not match output {}'s {} {}", k,
            g.shape(), g.dtype(), k, y.shape(), y.dtype());
      seeds.push_back(g);
    }
  }
  for (std::size_t i = 0; i < inputs.size(); ++i)
    check(inputs[i].defined() && inputs[i].requires_grad(), "grad: input {} does not require grad",
          i);
  const bool retain_graph = options.retain_graph.value_or(options.create_graph);
  if (!options.create_graph)
    return grad_pass<Tensor>(outputs, inputs, seeds, options, retain_graph);
  EnableGradGuard record;
  return grad_pass<Variable>(outputs, inputs, seeds, options, retain_graph);
}

}  // namespace seqgrad
