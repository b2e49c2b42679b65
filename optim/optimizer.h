// Optimizer: the base of every optimiser. It holds the parameters, the learning rate (which the
// schedulers in schedule.h change) and the per-parameter state (moment buffers and update counts),
// and saves and restores that state by name, so a training run can stop and resume exactly.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "autograd/all.h"
#include "tensor/parallel.h"

namespace seqgrad::optim {

class Optimizer {
 public:
  // A per-parameter buffer an optimiser declares (its state_dict name and starting value).
  struct BufferSpec {
    std::string name;
    double initial_value = 0.0;
  };

  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient; the others are left alone (as PyTorch
  // skips parameters whose .grad is None), state included.
  virtual void step() = 0;
  // Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();

  const std::vector<Variable>& params() const { return params_; }
  double lr() const { return lr_; }
  void set_lr(double lr);
  // Calls of step() so far (each parameter also counts the updates it received: see state_dict).
  std::int64_t steps() const { return steps_; }
  const std::string& type_name() const { return type_name_; }

  // Copies of the state by name: "step" and "lr" (0-d float64), and for each parameter i that was
  // updated at least once "i.step" (0-d float64: its update count) plus its buffers "i.<buffer>"
  // ("0.exp_avg", "1.momentum_buffer", ...), which have the parameter's shape and dtype.
  std::map<std::string, Tensor> state_dict() const;
  // Replaces the whole state with `state` (a parameter without entries starts afresh). Every entry
  // is checked first (known name, shape, dtype, value; a parameter's entries all present or all
  // absent) and on any error nothing changes. Hyper-parameters other than lr come from the
  // constructor, not the state.
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  // What the optimiser keeps for one parameter. Buffers are allocated (filled with the value given
  // for them to the constructor) on the parameter's first update.
  struct ParamState {
    std::int64_t step = 0;        // updates this parameter received, including the current one
    std::vector<Tensor> buffers;  // as declared by the optimiser; empty until the first update
  };

  // Checks the parameters: defined, floating point, contiguous, requiring grad, no duplicates.
  Optimizer(std::string type_name, std::vector<Variable> params, double lr,
            std::vector<BufferSpec> buffers);

  // One parameter's elements [offset, offset + n) as an update sees them: its update count and its
  // buffers, which buffer<T>(slice, k) returns from `offset` on.
  struct ParamSlice {
    std::int64_t step;
    const std::vector<Tensor>* buffers;
    std::int64_t offset;
  };

  // Runs update(p, g, n, slice) with raw pointers to a parameter's value and gradient (n elements
  // of float or double, from slice.offset on) for each parameter with a gradient, under
  // NoGradGuard. It counts the update in the parameter's step first, bumps its version counter
  // afterwards (the writes bypass Tensor's in-place ops) and counts the step() call.
  // Every update is elementwise, so with several threads the elements of all parameters together
  // are cut into one contiguous range per thread (a parameter may be handed over in two slices):
  // the result is the same bits for any thread count.
  template <class F>
  void update_each(F&& update) {
    NoGradGuard no_grad;
    pending_.clear();
    std::int64_t total = 0;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const Variable& p = params_[i];
      if (!p.grad().defined()) continue;
      ParamState& s = prepare(i);
      ++s.step;
      // Leaf gradients already are contiguous: no copy.
      pending_.push_back({i, total, p.grad().contiguous()});
      total += p.numel();
    }
    const auto run = [&](std::int64_t begin, std::int64_t end) {
      for (const Pending& u : pending_) {
        const Variable& p = params_[u.index];
        const std::int64_t b = std::max(begin, u.start), e = std::min(end, u.start + p.numel());
        if (b >= e) continue;
        const ParamSlice slice{state_[u.index].step, &state_[u.index].buffers, b - u.start};
        dispatch_floating(p.dtype(), type_name_.c_str(), [&]<class T>() {
          update(p.value().data<T>() + slice.offset, u.grad.data<T>() + slice.offset, e - b, slice);
        });
      }
    };
    // Below ~64K values a worker's wake-up costs more than the loop.
    if (total >= (std::int64_t{1} << 16))
      parallel_for(total, run);
    else
      run(0, total);
    for (const Pending& u : pending_) params_[u.index].value().bump_version();
    pending_.clear();  // drops the gradients' handles (keeps the capacity)
    ++steps_;
  }

  // Raw pointer to buffer `k` of a slice, at the slice's first element.
  template <class T>
  static T* buffer(const ParamSlice& s, std::size_t k) {
    return (*s.buffers)[k].data<T>() + s.offset;
  }

  // "SGD: invalid momentum -0.5, expected >= 0": the name of the optimiser, the option and value.
  void check_option(bool ok, const char* option, double value, const char* expected) const;

 private:
  ParamState& prepare(std::size_t i);  // allocates the buffers on the first update
  void check_scalar(const std::map<std::string, Tensor>& state, const std::string& name,
                    double min_value) const;

  std::string type_name_;
  std::vector<Variable> params_;
  double lr_;
  std::vector<BufferSpec> buffer_specs_;
  std::vector<ParamState> state_;
  // The parameters of the current update_each: index, first element in the joint range, gradient.
  struct Pending {
    std::size_t index;
    std::int64_t start;
    Tensor grad;
  };
  std::vector<Pending> pending_;  // kept between steps: no allocation per step
  std::int64_t steps_ = 0;
};

}  // namespace seqgrad::optim
