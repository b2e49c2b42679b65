#include "nn/module.h"

namespace seqgrad::nn {

Variable Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  check(!name.empty() && name.find('.') == std::string::npos,
        "register_parameter: invalid name '{}' in {} (no dots, not empty)", name, type_name_);
  for (const auto& [n, p] : params_)
    check(n != name, "register_parameter: {} already has a parameter named '{}'", type_name_, name);
  Variable p(std::move(value), requires_grad);
  p.set_name(name);
  params_.emplace_back(name, p);
  return p;
}

Variable Module::register_parameter(const std::string& name, const Variable& parameter) {
  check(parameter.defined() && parameter.is_leaf(),
        "register_parameter: '{}' in {} must be a defined leaf variable", name, type_name_);
  check(!name.empty() && name.find('.') == std::string::npos,
        "register_parameter: invalid name '{}' in {} (no dots, not empty)", name, type_name_);
  for (const auto& [n, p] : params_)
    check(n != name, "register_parameter: {} already has a parameter named '{}'", type_name_, name);
  params_.emplace_back(name, parameter);
  return parameter;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check(module != nullptr, "register_module: module '{}' of {} is null", name, type_name_);
  check(!name.empty() && name.find('.') == std::string::npos,
        "register_module: invalid name '{}' in {} (no dots, not empty)", name, type_name_);
  for (const auto& [n, m] : children_)
    check(n != name, "register_module: {} already has a submodule named '{}'", type_name_, name);
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix,
                     std::vector<std::pair<std::string, Variable>>& out) const {
  for (const auto& [name, p] : params_) out.emplace_back(prefix + name, p);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Variable>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Variable>> out;
  collect("", out);
  return out;
}

std::vector<Variable> Module::parameters() const {
  std::vector<Variable> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

std::int64_t Module::num_parameters() const {
  std::int64_t n = 0;
  for (const Variable& p : parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (const Variable& p : parameters()) p.zero_grad();
}

void Module::share_parameters(const Module& source) {
  const auto mine = named_parameters(), theirs = source.named_parameters();
  check(mine.size() == theirs.size(),
        "share_parameters: {} has {} parameters, the source {} has {}", type_name_, mine.size(),
        source.type_name(), theirs.size());
  for (std::size_t i = 0; i < mine.size(); ++i) {
    const auto& [name, p] = mine[i];
    const auto& [source_name, q] = theirs[i];
    check(name == source_name && p.shape() == q.shape() && p.dtype() == q.dtype(),
          "share_parameters: parameter {} is {} {} {}, the source's is {} {} {}", i, name,
          p.shape(), p.dtype(), source_name, q.shape(), q.dtype());
  }
  for (std::size_t i = 0; i < mine.size(); ++i) mine[i].second.share_value(theirs[i].second);
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (const auto& [name, p] : named_parameters()) out.emplace(name, p.value());
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  const auto params = named_parameters();
  // Validate everything before changing anything.
  std::size_t matched = 0;
  for (const auto& [name, p] : params) {
    auto it = state.find(name);
    if (it == state.end()) {
      check(!strict, "load_state_dict: missing parameter '{}' (shape {}) for {}", name, p.shape(),
            type_name_);
      continue;
    }
    ++matched;
    const Tensor& t = it->second;
    check(t.defined() && t.shape() == p.shape(),
          "load_state_dict: parameter '{}' has shape {} in the state, {} in the model", name,
          t.defined() ? t.shape() : Dims{}, p.shape());
    check(t.dtype() == p.dtype(),
          "load_state_dict: parameter '{}' has dtype {} in the state, {} "
          "in the model",
          name, t.dtype(), p.dtype());
  }
  if (strict && matched != state.size()) {
    for (const auto& [name, t] : state) {
      bool known = false;
      for (const auto& [pname, p] : params) known = known || pname == name;
      check(known, "load_state_dict: unexpected parameter '{}' (shape {}) for {}", name,
            t.defined() ? t.shape() : Dims{}, type_name_);
    }
  }
  NoGradGuard no_grad;
  for (const auto& [name, p] : params) {
    auto it = state.find(name);
    if (it != state.end()) p.value().copy_(it->second);
  }
}

void Module::describe(const std::string& name, int depth, std::string& out) const {
  const std::string indent(static_cast<std::size_t>(depth) * 2, ' ');
  std::int64_t own = 0;
  for (const auto& [n, p] : params_) own += p.numel();
  out += fmt::format("{}{}{}({})", indent, name.empty() ? "" : "(" + name + "): ", type_name_,
                     extra_repr());
  out += fmt::format("  params={}\n", num_parameters());
  for (const auto& [n, p] : params_)
    out += fmt::format("{}  - {} {} {}\n", indent, n, p.shape(), p.dtype());
  for (const auto& [n, child] : children_) child->describe(n, depth + 1, out);
}

std::string Module::summary() const {
  std::string out;
  describe("", 0, out);
  out += fmt::format("Total parameters: {}\n", num_parameters());
  return out;
}

}  // namespace seqgrad::nn
