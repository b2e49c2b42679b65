// Learning rate schedulers: each sets its optimiser's lr from the epoch (or iteration) count, in
// the closed forms of the PyTorch 1.13 documentation (torch.optim.lr_scheduler). As in PyTorch,
// constructing one sets the epoch-0 rate and step() is called once per epoch, after the
// optimiser's step(). The base rate is the optimiser's lr at construction. A scheduler keeps a
// reference to its optimiser, which must outlive it.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "optim/optimizer.h"

namespace seqgrad::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one epoch and sets the optimiser's lr.
  void step();
  double last_lr() const { return last_lr_; }
  std::int64_t last_epoch() const { return last_epoch_; }
  double base_lr() const { return base_lr_; }
  // The rate at any epoch >= 0, without changing anything.
  virtual double lr_at(std::int64_t epoch) const = 0;

  // "last_epoch" and "base_lr" as 0-d float64 tensors. Loading validates both first, then sets
  // last_lr() but not the optimiser's lr, which the optimiser's own state dict restores.
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  LRScheduler(const char* type_name, Optimizer& optimizer);
  // Sets the epoch-0 rate: called at the end of each derived constructor, once lr_at() works.
  void start();

  const char* type_name_;

 private:
  Optimizer& optimizer_;
  double base_lr_;
  std::int64_t last_epoch_ = -1;
  double last_lr_;
};

// lr = base_lr * gamma^floor(epoch / step_size)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);
  double lr_at(std::int64_t epoch) const override;

 private:
  std::int64_t step_size_;
  double gamma_;
};

// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2, which keeps following
// the cosine (back up again) past T_max, as PyTorch's recursive form does.
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min = 0.0);
  double lr_at(std::int64_t epoch) const override;

 private:
  std::int64_t t_max_;
  double eta_min_;
};

// Linear warm-up (or decay): the factor goes from start_factor at epoch 0 to end_factor at
// total_iters and stays there. lr = base_lr * (start + (end - start) * min(epoch, total) / total).
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0,
           std::int64_t total_iters = 5);
  double lr_at(std::int64_t epoch) const override;

 private:
  double start_factor_;
  double end_factor_;
  std::int64_t total_iters_;
};

// The Transformer's schedule (Vaswani et al. 2017, sec. 5.3, "noam"): a linear warm-up, then
// decay with the inverse square root of the step. With s = epoch + 1 (the paper counts from 1),
//   lr = base_lr * min(s / warmup, sqrt(warmup / s)),
// which peaks at base_lr at s = warmup. The paper's d_model^-0.5 * min(s^-0.5, s warmup^-1.5) is
// this with base_lr = (d_model * warmup)^-0.5.
class NoamLR : public LRScheduler {
 public:
  NoamLR(Optimizer& optimizer, std::int64_t warmup);
  double lr_at(std::int64_t epoch) const override;

 private:
  std::int64_t warmup_;
};

// A linear warm-up, then a cosine decay to 0 at total (the usual recipe for a run of known length;
// in PyTorch, SequentialLR of LinearLR and CosineAnnealingLR). With s = epoch + 1:
//   lr = base_lr * s / warmup                                          for s <= warmup,
//   lr = base_lr * (1 + cos(pi * (s - warmup) / (total - warmup))) / 2  after, and 0 past total.
class WarmupCosineLR : public LRScheduler {
 public:
  WarmupCosineLR(Optimizer& optimizer, std::int64_t warmup, std::int64_t total);
  double lr_at(std::int64_t epoch) const override;

 private:
  std::int64_t warmup_, total_;
};

}  // namespace seqgrad::optim
