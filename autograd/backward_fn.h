// BackwardFn: the type-erased backward closure a Node holds. Like a move-only std::function, but
// the captured tensors live in the small-object pool (tensor/pool.h) instead of on the heap:
// recording an op is the hot path of every training step.
//
// Two shapes of closure: an op with one output takes its gradient, (const Tensor& gy, GradSlots&
// dx); an op with several outputs takes one gradient per output, (std::span<const Tensor> gys,
// GradSlots& dx). The engine calls both the same way.
//
// A closure written generically, (const auto& gy, auto& dx), is compiled twice from the same
// formula: on Tensors (the fast path of every backward()) and on Variables (grad() with
// create_graph, where the backward pass is itself recorded so it can be differentiated again).
// A closure written for Tensors only makes its op first-order only; can_create_graph() says which.
#pragma once

#include <new>
#include <span>
#include <type_traits>
#include <utility>

#include "autograd/variable.h"
#include "tensor/pool.h"
#include "tensor/tensor.h"

namespace seqgrad {

template <class G>
class BasicGradSlots;
using GradSlots = BasicGradSlots<Tensor>;         // the fast path: gradients are tensors
using GraphGradSlots = BasicGradSlots<Variable>;  // create_graph: gradients are recorded

class BackwardFn {
 public:
  BackwardFn() = default;
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, BackwardFn>>>
  BackwardFn(F&& f) {  // NOLINT: implicit, like std::function
    using Fn = std::decay_t<F>;
    static_assert(alignof(Fn) <= 16, "backward closures must not need over-aligned storage");
    object_ = new (detail::pool_allocate(sizeof(Fn))) Fn(std::forward<F>(f));
    if constexpr (std::is_invocable_v<Fn&, const Tensor&, GradSlots&>)
      call_ = [](void* o, const Tensor* gys, std::size_t, GradSlots& dx) {
        (*static_cast<Fn*>(o))(gys[0], dx);
      };
    else
      call_ = [](void* o, const Tensor* gys, std::size_t n, GradSlots& dx) {
        (*static_cast<Fn*>(o))(std::span<const Tensor>(gys, n), dx);
      };
    if constexpr (std::is_invocable_v<Fn&, const Variable&, GraphGradSlots&>)
      call_graph_ = [](void* o, const Variable& gy, GraphGradSlots& dx) {
        (*static_cast<Fn*>(o))(gy, dx);
      };
    destroy_ = [](void* o) {
      static_cast<Fn*>(o)->~Fn();
      detail::pool_deallocate(o, sizeof(Fn));
    };
  }
  BackwardFn(BackwardFn&& other) noexcept { swap(other); }
  BackwardFn& operator=(BackwardFn&& other) noexcept {
    BackwardFn(std::move(other)).swap(*this);
    return *this;
  }
  BackwardFn& operator=(std::nullptr_t) noexcept {
    reset();
    return *this;
  }
  BackwardFn(const BackwardFn&) = delete;
  BackwardFn& operator=(const BackwardFn&) = delete;
  ~BackwardFn() { reset(); }

  // gys: one gradient per output of the node.
  void operator()(std::span<const Tensor> gys, GradSlots& dx) const {
    call_(object_, gys.data(), gys.size(), dx);
  }
  // The same formula on Variables (a single-output op written generically; see above).
  void operator()(const Variable& gy, GraphGradSlots& dx) const { call_graph_(object_, gy, dx); }
  bool can_create_graph() const { return call_graph_ != nullptr; }
  explicit operator bool() const { return object_ != nullptr; }

 private:
  void reset() noexcept {
    if (object_) destroy_(object_);
    object_ = nullptr;
    call_graph_ = nullptr;
  }
  void swap(BackwardFn& o) noexcept {
    std::swap(object_, o.object_);
    std::swap(call_, o.call_);
    std::swap(call_graph_, o.call_graph_);
    std::swap(destroy_, o.destroy_);
  }
  void* object_ = nullptr;
  void (*call_)(void*, const Tensor*, std::size_t, GradSlots&) = nullptr;
  void (*call_graph_)(void*, const Variable&, GraphGradSlots&) = nullptr;
  void (*destroy_)(void*) = nullptr;
};

}  // namespace seqgrad
