#include "optim/optimizer.h"

#include <cmath>
#include <set>
#include <utility>

namespace seqgrad::optim {

namespace {

// "12.exp_avg" -> index 12, buffer "exp_avg"; false for names of another form.
bool split_entry(const std::string& entry, std::size_t& index, std::string& buffer) {
  const auto dot = entry.find('.');
  if (dot == 0 || dot == std::string::npos) return false;
  index = 0;
  for (std::size_t k = 0; k < dot; ++k) {
    if (entry[k] < '0' || entry[k] > '9' || k > 6) return false;
    index = index * 10 + static_cast<std::size_t>(entry[k] - '0');
  }
  buffer = entry.substr(dot + 1);
  return true;
}

Tensor scalar_state(double value) { return scalar_tensor(value, kFloat64); }

}  // namespace

Optimizer::Optimizer(std::string type_name, std::vector<Variable> params, double lr,
                     std::vector<BufferSpec> buffers)
    : type_name_(std::move(type_name)),
      params_(std::move(params)),
      lr_(lr),
      buffer_specs_(std::move(buffers)),
      state_(params_.size()) {
  set_lr(lr);
  std::set<const VariableImpl*> seen;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Variable& p = params_[i];
    check(p.defined(), "{}: parameter {} is undefined", type_name_, i);
    check(is_floating(p.dtype()), "{}: parameter {} has dtype {}, expected float32 or float64",
          type_name_, i, p.dtype());
    check(p.requires_grad() && p.is_leaf(),
          "{}: parameter {} (shape {}) must be a leaf that requires grad", type_name_, i,
          p.shape());
    // The updates are flat loops over the raw data.
    check(p.value().is_contiguous(), "{}: parameter {} (shape {}) is not contiguous", type_name_, i,
          p.shape());
    // PyTorch rejects this too: the parameter would be updated twice per step.
    check(seen.insert(p.impl()).second, "{}: parameter {} appears more than once", type_name_, i);
  }
}

void Optimizer::zero_grad() {
  for (const Variable& p : params_) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
  check_option(lr >= 0.0, "lr", lr, ">= 0");
  lr_ = lr;
}

void Optimizer::check_option(bool ok, const char* option, double value,
                             const char* expected) const {
  check(ok, "{}: invalid {} {}, expected {}", type_name_, option, value, expected);
}

Optimizer::ParamState& Optimizer::prepare(std::size_t i) {
  ParamState& s = state_[i];
  if (s.buffers.empty() && !buffer_specs_.empty()) {
    const Variable& p = params_[i];
    s.buffers.reserve(buffer_specs_.size());
    for (const BufferSpec& spec : buffer_specs_)
      s.buffers.push_back(full(p.shape(), spec.initial_value, p.dtype()));
  }
  return s;
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  // Copies, not views: a checkpoint taken now must not change as training continues.
  std::map<std::string, Tensor> out;
  out["step"] = scalar_state(static_cast<double>(steps_));
  out["lr"] = scalar_state(lr_);
  for (std::size_t i = 0; i < state_.size(); ++i) {
    const ParamState& s = state_[i];
    if (s.step == 0) continue;
    out[fmt::format("{}.step", i)] = scalar_state(static_cast<double>(s.step));
    for (std::size_t k = 0; k < s.buffers.size(); ++k)
      out[fmt::format("{}.{}", i, buffer_specs_[k].name)] = s.buffers[k].clone();
  }
  return out;
}

void Optimizer::check_scalar(const std::map<std::string, Tensor>& state, const std::string& name,
                             double min_value) const {
  const auto it = state.find(name);
  check(it != state.end(), "{}: load_state_dict: missing entry '{}'", type_name_, name);
  const Tensor& t = it->second;
  check(t.defined() && t.dim() == 0 && t.dtype() == kFloat64,
        "{}: load_state_dict: entry '{}' must be a 0-d float64 tensor, got shape {} dtype {}",
        type_name_, name, t.defined() ? t.shape() : Dims{}, t.defined() ? t.dtype() : kFloat64);
  const double v = t.item();
  // Counts are whole numbers; the learning rate is any finite value >= 0.
  const bool count = name != "lr";
  check(v >= min_value && std::isfinite(v) && (!count || v == std::floor(v)),
        "{}: load_state_dict: entry '{}' has invalid value {}, expected a {} >= {}", type_name_,
        name, v, count ? "whole number" : "number", min_value);
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  // Validate everything before changing anything.
  check_scalar(state, "step", 0.0);
  check_scalar(state, "lr", 0.0);
  std::vector<std::size_t> present(params_.size(), 0);  // entries found per parameter
  for (const auto& [name, t] : state) {
    if (name == "step" || name == "lr") continue;
    std::size_t i = 0;
    std::string buffer;
    check(split_entry(name, i, buffer) && i < params_.size(),
          "{}: load_state_dict: unexpected entry '{}' ({} parameters)", type_name_, name,
          params_.size());
    ++present[i];
    if (buffer == "step") {
      check_scalar(state, name, 1.0);  // saved only for parameters updated at least once
      continue;
    }
    bool known = false;
    for (const BufferSpec& spec : buffer_specs_) known = known || spec.name == buffer;
    check(known, "{}: load_state_dict: unexpected entry '{}'", type_name_, name);
    const Variable& p = params_[i];
    check(t.defined() && t.shape() == p.shape() && t.dtype() == p.dtype(),
          "{}: load_state_dict: entry '{}' has shape {} dtype {}, the parameter {} {}", type_name_,
          name, t.defined() ? t.shape() : Dims{}, t.defined() ? t.dtype() : p.dtype(), p.shape(),
          p.dtype());
  }
  const std::size_t complete = buffer_specs_.size() + 1;  // the buffers and "i.step"
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (present[i] == 0 || present[i] == complete) continue;
    std::string missing = fmt::format("{}.step", i);
    for (const BufferSpec& spec : buffer_specs_) {
      const std::string name = fmt::format("{}.{}", i, spec.name);
      if (!state.count(name)) missing = name;
    }
    fail("{}: load_state_dict: missing entry '{}' (parameter {} has some of its state)", type_name_,
         missing, i);
  }

  steps_ = static_cast<std::int64_t>(state.at("step").item());
  lr_ = state.at("lr").item();
  for (std::size_t i = 0; i < params_.size(); ++i) {
    ParamState& s = state_[i];
    if (present[i] == 0) {
      s = ParamState{};
      continue;
    }
    prepare(i);
    s.step = static_cast<std::int64_t>(state.at(fmt::format("{}.step", i)).item());
    for (std::size_t k = 0; k < buffer_specs_.size(); ++k)
      s.buffers[k].copy_(state.at(fmt::format("{}.{}", i, buffer_specs_[k].name)));
  }
}

}  // namespace seqgrad::optim
