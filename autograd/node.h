// The recorded graph. Every differentiable op that has an input requiring grad creates one Node:
// the op's name, where each input's gradient must go (an Edge), its outputs (most ops have one; a
// recurrent layer has its outputs and final states), the tensors its backward reads (with their
// versions, to catch in-place modification), and the backward function itself.
//
// The contract of a backward function (the rule that makes graphs with shared inputs correct):
// it receives dL/d(output) and must ADD each input's contribution through its slot,
// `grad_inputs[i] += ...`, never overwrite. The slot sums over broadcast dims, so an op written
// for equal shapes is also right for broadcast ones.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "autograd/anomaly.h"
#include "autograd/backward_fn.h"
#include "autograd/grad_mode.h"
#include "autograd/variable.h"

namespace seqgrad {

// Where one input's gradient goes: into the node that produced it, or into a leaf's .grad.
// Both empty means the input does not require grad.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<VariableImpl> leaf;
  std::uint32_t output = 0;  // which of node's outputs the input is
  Dims shape;                // the input's shape: its gradient is summed back to it
  DType dtype = kFloat32;
  bool needed() const { return node != nullptr || leaf != nullptr; }
};

// Small per-node lists live in the thread's object pool (tensor/pool.h): no malloc per op.
using EdgeList = std::vector<Edge, PoolAllocator<Edge>>;

// Where captured gradients go when grad() asks for some inputs' gradients instead of
// accumulating into every leaf's .grad (backward()). `leaves` and `nodes` name the inputs: a
// leaf by its VariableImpl, a non-leaf by (its node, which output); `grads` is one per input.
template <class G>
struct GradSink {
  std::vector<const VariableImpl*> leaves;                   // one per input; null for a non-leaf
  std::vector<std::pair<const Node*, std::uint32_t>> nodes;  // one per input; null for a leaf
  std::vector<G> grads;
};

// True when a backward runs on tensors (the fast path), false under create_graph: a fused op
// whose tensor kernel cannot run on Variables falls back to its composed formula with
// `if constexpr (on_tensors<decltype(gy)>) { kernel } else { composed }`.
template <class G>
inline constexpr bool on_tensors = std::is_same_v<std::decay_t<G>, Tensor>;

// "dx" in every backward function: the op's input slots. G is Tensor on the fast path and
// Variable under create_graph; a closure written generically, (const auto& gy, auto& dx), runs
// the same formula in both, reading the values it saved through saved() and output().
template <class G>
class BasicGradSlots {
 public:
  // `node` (optional) is the op whose backward is running: anomaly mode names where it was made.
  // `self` owns it (create_graph: output() attaches to it). With a `sink`, leaves not in it
  // receive nothing; with `collect` (one tensor per input), contributions are kept there.
  BasicGradSlots(const char* op, EdgeList& edges, const Node* node = nullptr,
                 GradSink<G>* sink = nullptr, const std::shared_ptr<Node>* self = nullptr,
                 G* collect = nullptr)
      : op_(op), edges_(edges), node_(node), sink_(sink), self_(self), collect_(collect) {}

  class Slot {
   public:
    Slot(BasicGradSlots& owner, int i) : owner_(owner), i_(i) {}
    bool needed() const { return owner_.edges_[i_].needed(); }
    // Accumulates a gradient contribution (a no-op when this input needs none).
    // By value: a temporary moves in, so accumulate() can tell it is unshared and keep it.
    void operator+=(G g) { owner_.accumulate(i_, std::move(g)); }

   private:
    BasicGradSlots& owner_;
    int i_;
  };

  Slot operator[](int i) { return Slot(*this, i); }
  bool needed(int i) const { return edges_[i].needed(); }

  // A value the backward reads, saved as the Variable: its tensor on the fast path; under
  // create_graph the Variable itself, so the second derivative flows through it too.
  const G& saved(const Variable& v) const {
    if constexpr (std::is_same_v<G, Tensor>)
      return v.value();
    else
      return v;
  }
  // The op's own output `y` (saved as a tensor: a Variable holding its node would be a cycle);
  // under create_graph a Variable that is output `nr` of this node.
  G output(const Tensor& y, std::uint32_t nr = 0) const;

 private:
  void accumulate(int i, G g);
  const char* op_;
  EdgeList& edges_;
  const Node* node_;
  GradSink<G>* sink_;
  const std::shared_ptr<Node>* self_;
  G* collect_;
};

struct SavedTensor {
  Tensor tensor;
  std::uint64_t version;
};

// One output of a node.
struct NodeOutput {
  Dims shape;
  DType dtype = kFloat32;
  Tensor grad;          // dL/d(output), accumulated while backward() runs
  Variable graph_grad;  // the same under create_graph, recorded
};

struct Node {
  const char* op = "";
  EdgeList inputs;
  std::vector<NodeOutput, PoolAllocator<NodeOutput>> outputs;
  std::vector<SavedTensor, PoolAllocator<SavedTensor>> saved;
  BackwardFn backward;  // emptied once the graph is freed
  std::uint64_t visit_mark = 0;
  bool freed = false;
  std::unique_ptr<CreationTrace> trace;  // only recorded in anomaly mode

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Destroys long chains iteratively: the default destructor would recurse once per node.
  ~Node();
};

namespace detail {
Edge edge_to(const Variable& input);
// A Variable that is output `nr` of `node` (which already lists that output).
Variable as_output(const std::shared_ptr<Node>& node, std::uint32_t nr, Tensor value);
Variable attach(const char* op, Tensor value, EdgeList inputs, BackwardFn backward,
                std::initializer_list<Tensor> saved);
std::vector<Variable> attach_outputs(const char* op, std::vector<Tensor> values, EdgeList inputs,
                                     BackwardFn backward, std::initializer_list<Tensor> saved);

// The edges to `inputs`, or nothing when grad mode is off or no input requires grad: then the op
// records no node. Shared by record and record_many.
template <class Inputs>
std::optional<EdgeList> edges_if_recording(const Inputs& inputs) {
  if (!GradMode::is_enabled()) return std::nullopt;
  bool any = false;
  for (const Variable& v : inputs) any = any || v.requires_grad();
  if (!any) return std::nullopt;
  EdgeList edges;
  edges.reserve(inputs.size());
  for (const Variable& v : inputs) edges.push_back(edge_to(v));
  return edges;
}
}  // namespace detail

// Records `op`: returns its output as a Variable and, when some input requires grad and grad mode
// is on, a Node with `backward`. `saved` lists the tensors backward reads (for version checks).
// The backward lambda is only turned into a std::function when it will be used.
template <class F>
Variable record(const char* op, Tensor value, std::initializer_list<Variable> inputs, F&& backward,
                std::initializer_list<Tensor> saved = {}) {
  auto edges = detail::edges_if_recording(inputs);
  if (!edges) return Variable(std::move(value));
  return detail::attach(op, std::move(value), std::move(*edges),
                        BackwardFn(std::forward<F>(backward)), saved);
}

// Same, for an op with a variable number of inputs (cat, stack).
Variable record_many(const char* op, Tensor value, const std::vector<Variable>& inputs,
                     BackwardFn backward, std::initializer_list<Tensor> saved = {});

// Records an op with several outputs (a recurrent layer: its outputs and its final states) as one
// node. Its backward receives one gradient per output, (std::span<const Tensor> gys, GradSlots&
// dx): those the loss does not depend on arrive as zeros.
template <class F>
std::vector<Variable> record_outputs(const char* op, std::vector<Tensor> values,
                                     std::initializer_list<Variable> inputs, F&& backward,
                                     std::initializer_list<Tensor> saved = {}) {
  auto edges = detail::edges_if_recording(inputs);
  if (!edges) {
    std::vector<Variable> out;
    for (Tensor& v : values) out.emplace_back(std::move(v));
    return out;
  }
  return detail::attach_outputs(op, std::move(values), std::move(*edges),
                                BackwardFn(std::forward<F>(backward)), saved);
}

}  // namespace seqgrad
