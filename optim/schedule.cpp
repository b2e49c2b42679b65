#include "optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace seqgrad::optim {

LRScheduler::LRScheduler(const char* type_name, Optimizer& optimizer)
    : type_name_(type_name), optimizer_(optimizer), base_lr_(optimizer.lr()), last_lr_(base_lr_) {}

void LRScheduler::start() {
  last_epoch_ = -1;
  step();
}

void LRScheduler::step() {
  ++last_epoch_;
  last_lr_ = lr_at(last_epoch_);
  optimizer_.set_lr(last_lr_);
}

std::map<std::string, Tensor> LRScheduler::state_dict() const {
  return {{"last_epoch", scalar_tensor(static_cast<double>(last_epoch_), kFloat64)},
          {"base_lr", scalar_tensor(base_lr_, kFloat64)}};
}

void LRScheduler::load_state_dict(const std::map<std::string, Tensor>& state) {
  for (const auto& [name, t] : state)
    check(name == "last_epoch" || name == "base_lr", "{}: load_state_dict: unexpected entry '{}'",
          type_name_, name);
  auto value = [&](const char* name) {
    const auto it = state.find(name);
    check(it != state.end(), "{}: load_state_dict: missing entry '{}'", type_name_, name);
    const Tensor& t = it->second;
    check(t.defined() && t.dim() == 0 && t.dtype() == kFloat64,
          "{}: load_state_dict: entry '{}' must be a 0-d float64 tensor, got shape {} dtype {}",
          type_name_, name, t.defined() ? t.shape() : Dims{}, t.defined() ? t.dtype() : kFloat64);
    return t.item();
  };
  const double epoch = value("last_epoch"), base_lr = value("base_lr");
  check(epoch >= 0.0 && epoch == std::floor(epoch) && epoch < 1e15,
        "{}: load_state_dict: entry 'last_epoch' has invalid value {}, expected a whole number "
        ">= 0",
        type_name_, epoch);
  check(base_lr >= 0.0 && std::isfinite(base_lr),
        "{}: load_state_dict: entry 'base_lr' has invalid value {}, expected a number >= 0",
        type_name_, base_lr);
  last_epoch_ = static_cast<std::int64_t>(epoch);
  base_lr_ = base_lr;
  last_lr_ = lr_at(last_epoch_);
}

StepLR::StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler("StepLR", optimizer), step_size_(step_size), gamma_(gamma) {
  check(step_size > 0, "StepLR: invalid step_size {}, expected > 0", step_size);
  check(gamma >= 0.0, "StepLR: invalid gamma {}, expected >= 0", gamma);
  start();
}

double StepLR::lr_at(std::int64_t epoch) const {
  return base_lr() * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min)
    : LRScheduler("CosineAnnealingLR", optimizer), t_max_(T_max), eta_min_(eta_min) {
  check(T_max > 0, "CosineAnnealingLR: invalid T_max {}, expected > 0", T_max);
  check(eta_min >= 0.0, "CosineAnnealingLR: invalid eta_min {}, expected >= 0", eta_min);
  start();
}

double CosineAnnealingLR::lr_at(std::int64_t epoch) const {
  const double angle = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(t_max_);
  return eta_min_ + (base_lr() - eta_min_) * (1.0 + std::cos(angle)) / 2.0;
}

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor,
                   std::int64_t total_iters)
    : LRScheduler("LinearLR", optimizer),
      start_factor_(start_factor),
      end_factor_(end_factor),
      total_iters_(total_iters) {
  check(start_factor >= 0.0 && start_factor <= 1.0,
        "LinearLR: invalid start_factor {}, expected in [0, 1]", start_factor);
  check(end_factor >= 0.0 && end_factor <= 1.0,
        "LinearLR: invalid end_factor {}, expected in [0, 1]", end_factor);
  check(total_iters > 0, "LinearLR: invalid total_iters {}, expected > 0", total_iters);
  start();
}

double LinearLR::lr_at(std::int64_t epoch) const {
  const double done = static_cast<double>(std::min(epoch, total_iters_));
  return base_lr() *
         (start_factor_ + (end_factor_ - start_factor_) * done / static_cast<double>(total_iters_));
}

NoamLR::NoamLR(Optimizer& optimizer, std::int64_t warmup)
    : LRScheduler("NoamLR", optimizer), warmup_(warmup) {
  check(warmup > 0, "NoamLR: invalid warmup {}, expected > 0", warmup);
  start();
}

double NoamLR::lr_at(std::int64_t epoch) const {
  const double s = static_cast<double>(epoch + 1), w = static_cast<double>(warmup_);
  return base_lr() * std::min(s / w, std::sqrt(w / s));
}

WarmupCosineLR::WarmupCosineLR(Optimizer& optimizer, std::int64_t warmup, std::int64_t total)
    : LRScheduler("WarmupCosineLR", optimizer), warmup_(warmup), total_(total) {
  check(warmup > 0, "WarmupCosineLR: invalid warmup {}, expected > 0", warmup);
  check(total > warmup, "WarmupCosineLR: total {} must exceed warmup {}", total, warmup);
  start();
}

double WarmupCosineLR::lr_at(std::int64_t epoch) const {
  const std::int64_t s = epoch + 1;
  if (s <= warmup_) return base_lr() * static_cast<double>(s) / static_cast<double>(warmup_);
  if (s >= total_) return 0.0;
  const double t = static_cast<double>(s - warmup_) / static_cast<double>(total_ - warmup_);
  return base_lr() * (1.0 + std::cos(std::numbers::pi * t)) / 2.0;
}

}  // namespace seqgrad::optim
