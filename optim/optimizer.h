// Optimizer: the base of every optimiser. It holds the parameters, the learning rate (which the
// schedulers in schedule.h change) and the per-parameter state (moment buffers and update counts),
// and saves and restores that state by name, so a training run can stop and resume exactly.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "autograd/all.h"

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

  // Runs update(p, g, n, state) with raw pointers to the parameter's value and gradient (n
  // elements of float or double) for each parameter with a gradient, under NoGradGuard. It counts
  // the update in state.step first, bumps the parameter's version counter afterwards (the writes
  // bypass Tensor's in-place ops) and counts the step() call.
  template <class F>
  void update_each(F&& update) {
    NoGradGuard no_grad;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const Variable& p = params_[i];
      if (!p.grad().defined()) continue;
      ParamState& s = prepare(i);
      ++s.step;
      const Tensor g = p.grad().contiguous();  // leaf gradients already are: no copy
      dispatch_floating(p.dtype(), type_name_.c_str(),
                        [&]<class T>() { update(p.value().data<T>(), g.data<T>(), p.numel(), s); });
      p.value().bump_version();
    }
    ++steps_;
  }

  // Raw pointer to buffer `k` of a prepared state.
  template <class T>
  static T* buffer(ParamState& s, std::size_t k) {
    return s.buffers[k].data<T>();
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
  std::int64_t steps_ = 0;
};

}  // namespace seqgrad::optim
