// Module: the base of every layer and model. It owns parameters and submodules registered by name,
// so that parameters(), named_parameters() ("encoder.weight_ih_l0", as PyTorch spells them),
// train()/eval(), zero_grad(), state_dict() and checkpoints all work without per-layer code.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/all.h"

namespace seqgrad::nn {

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // All parameters, depth first in registration order (the order optimisers and checkpoints use).
  std::vector<Variable> parameters() const;
  std::vector<std::pair<std::string, Variable>> named_parameters() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const {
    return children_;
  }
  std::int64_t num_parameters() const;

  // Dropout and similar layers behave differently in training and evaluation.
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  void zero_grad();

  // Parameter values by dotted name (shared storage, not copies).
  std::map<std::string, Tensor> state_dict() const;
  // Copies values in by name. Everything is validated first (names, shapes, dtypes); on any error
  // nothing is changed. With strict=false, missing and unexpected names are ignored.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  // Makes every parameter read `source`'s value of the same name (shared storage: an update of
  // source's weights is seen here), keeping its own gradient. For replicas of one model that
  // compute gradients side by side (train::Trainer::fit_data_parallel). Names, shapes and dtypes
  // must match; on any error nothing is changed.
  void share_parameters(const Module& source);

  // "Linear(in_features=3136, out_features=128, bias=true)" and a tree of the whole model with
  // parameter shapes and counts.
  const std::string& type_name() const { return type_name_; }
  virtual std::string extra_repr() const { return {}; }
  std::string summary() const;

 protected:
  // Registers a parameter (a leaf that requires grad) under `name` and returns it.
  Variable register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  // Registers an existing parameter, shared rather than copied: for modules that keep their parts
  // outside the submodule tree but expose PyTorch's flat names (LSTM's weight_ih_l0 lives in a
  // cell).
  Variable register_parameter(const std::string& name, const Variable& parameter);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Variable>>& out) const;
  void describe(const std::string& name, int depth, std::string& out) const;

  std::string type_name_;
  std::vector<std::pair<std::string, Variable>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// A module with one input and one output: what Sequential chains.
class Layer : public Module {
 public:
  using Module::Module;
  virtual Variable forward(const Variable& x) = 0;
  Variable operator()(const Variable& x) { return forward(x); }
};

}  // namespace seqgrad::nn
