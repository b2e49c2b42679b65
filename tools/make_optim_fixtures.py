#!/usr/bin/python3
"""Writes tests/fixtures/optim.json: what torch.optim (PyTorch 1.13) does on small float64 problems.

Every optimiser case starts from the same two parameters and feeds them the same fixed gradients
(set by hand, no loss), recording the parameters after each of 5 steps. The "skip" gradient
sequence leaves some gradients as None, which PyTorch's optimisers skip (and which keeps Adam's
per-parameter step counts apart). Also recorded: clip_grad_norm_ / clip_grad_value_ results and
the learning rate sequence of each scheduler.

Run with Debian's /usr/bin/python3 (torch 1.13 installed) from anywhere:
    /usr/bin/python3 tools/make_optim_fixtures.py
"""

import json
import math
import pathlib

import torch

STEPS = 5
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "optim.json"

gen = torch.Generator().manual_seed(1234)
SHAPES = [(2, 3), (4,)]
PARAMS = [torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES]
GRADS = [[torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES]
         for _ in range(STEPS)]
# Parameter 1 gets no gradient at step 1 and parameter 0 none at step 3 (0-based).
GRADS_SKIP = [[None if (k, i) in ((1, 1), (3, 0)) else g for i, g in enumerate(gs)]
              for k, gs in enumerate(GRADS)]
SEQUENCES = {"default": GRADS, "skip": GRADS_SKIP}


def flat(t):
    return t.detach().reshape(-1).tolist()


# (name, class, keyword arguments, gradient sequence). Learning rates are large enough that every
# step moves the parameters visibly.
CASES = [
    ("sgd", "SGD", dict(lr=0.1), "default"),
    ("sgd_weight_decay", "SGD", dict(lr=0.1, weight_decay=0.05), "default"),
    ("sgd_momentum", "SGD", dict(lr=0.1, momentum=0.9), "default"),
    ("sgd_momentum_dampening", "SGD", dict(lr=0.1, momentum=0.9, dampening=0.3), "default"),
    ("sgd_nesterov", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True), "default"),
    ("sgd_nesterov_weight_decay", "SGD",
     dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1), "default"),
    ("sgd_momentum_skip", "SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01), "skip"),
    ("adam", "Adam", dict(lr=0.01), "default"),
    ("adam_betas_eps", "Adam", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-3), "default"),
    ("adam_weight_decay", "Adam", dict(lr=0.01, weight_decay=0.1), "default"),
    ("adam_amsgrad", "Adam", dict(lr=0.01, amsgrad=True), "default"),
    ("adam_amsgrad_weight_decay", "Adam",
     dict(lr=0.02, betas=(0.5, 0.9), weight_decay=0.05, amsgrad=True), "default"),
    ("adam_skip", "Adam", dict(lr=0.01, weight_decay=0.1), "skip"),
    ("adamw", "AdamW", dict(lr=0.01), "default"),
    ("adamw_weight_decay", "AdamW", dict(lr=0.05, weight_decay=0.3), "default"),
    ("adamw_amsgrad", "AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True), "default"),
    ("adamw_skip", "AdamW", dict(lr=0.01, amsgrad=True), "skip"),
    ("rmsprop", "RMSprop", dict(lr=0.01), "default"),
    ("rmsprop_alpha_eps", "RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-4), "default"),
    ("rmsprop_weight_decay", "RMSprop", dict(lr=0.01, weight_decay=0.1), "default"),
    ("rmsprop_momentum", "RMSprop", dict(lr=0.01, momentum=0.9), "default"),
    ("rmsprop_centered", "RMSprop", dict(lr=0.01, centered=True), "default"),
    ("rmsprop_centered_momentum", "RMSprop",
     dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.05), "default"),
    ("rmsprop_skip", "RMSprop", dict(lr=0.01, momentum=0.9, centered=True), "skip"),
    ("adagrad", "Adagrad", dict(lr=0.1), "default"),
    ("adagrad_lr_decay", "Adagrad", dict(lr=0.1, lr_decay=0.5), "default"),
    ("adagrad_weight_decay", "Adagrad", dict(lr=0.1, weight_decay=0.1), "default"),
    ("adagrad_initial_accumulator", "Adagrad",
     dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6), "default"),
    ("adagrad_skip", "Adagrad", dict(lr=0.1, lr_decay=0.2), "skip"),
]


def run_optimizer(cls, kwargs, grads):
    params = [p.clone().requires_grad_() for p in PARAMS]
    # foreach=False: the documented single-tensor algorithm (the foreach one agrees to rounding).
    opt = getattr(torch.optim, cls)(params, foreach=False, **kwargs)
    steps = []
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = None if g is None else g.clone()
        opt.step()
        steps.append([flat(p) for p in params])
    return steps


def jsonable(kwargs):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}


def clip_norm_cases():
    out = []
    for max_norm, norm_type in [(1.0, 2.0), (100.0, 2.0), (0.5, 1.0), (2.0, 3.0), (0.3, math.inf),
                                (10.0, math.inf)]:
        params = [p.clone().requires_grad_() for p in PARAMS]
        for p, g in zip(params, GRADS[0]):
            p.grad = g.clone()
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
        out.append(dict(max_norm=max_norm, norm_type="inf" if math.isinf(norm_type) else norm_type,
                        total_norm=total.item(), grads=[flat(p.grad) for p in params]))
    return out


def clip_value_cases():
    out = []
    for clip_value in [0.5, 1.0, 100.0]:
        params = [p.clone().requires_grad_() for p in PARAMS]
        for p, g in zip(params, GRADS[0]):
            p.grad = g.clone()
        torch.nn.utils.clip_grad_value_(params, clip_value)
        out.append(dict(clip_value=clip_value, grads=[flat(p.grad) for p in params]))
    return out


SCHEDULERS = [
    ("step", "StepLR", dict(step_size=3), 10),
    ("step_gamma", "StepLR", dict(step_size=2, gamma=0.5), 10),
    ("cosine", "CosineAnnealingLR", dict(T_max=5), 12),
    ("cosine_eta_min", "CosineAnnealingLR", dict(T_max=4, eta_min=0.01), 12),
    ("linear", "LinearLR", dict(), 8),
    ("linear_warmup", "LinearLR", dict(start_factor=0.1, end_factor=1.0, total_iters=4), 8),
    ("linear_decay", "LinearLR", dict(start_factor=1.0, end_factor=0.25, total_iters=3), 6),
]


def scheduler_cases(base_lr=0.1):
    out = []
    for name, cls, kwargs, epochs in SCHEDULERS:
        param = PARAMS[0].clone().requires_grad_()
        opt = torch.optim.SGD([param], lr=base_lr)
        sched = getattr(torch.optim.lr_scheduler, cls)(opt, **kwargs)
        lrs = [opt.param_groups[0]["lr"]]  # epoch 0, set by the constructor
        for _ in range(epochs):
            opt.step()  # no gradients: nothing moves, but PyTorch wants step() before sched.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        out.append(dict(name=name, type=cls, options=kwargs, base_lr=base_lr, lrs=lrs))
    return out


def dumps(value, indent=""):
    """JSON with one line per list of numbers (readable diffs, no giant single line)."""
    inner = indent + " "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {dumps(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + dumps(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value, allow_nan=False)


def main():
    fixture = {
        "torch_version": torch.__version__,
        "params": [dict(shape=list(p.shape), values=flat(p)) for p in PARAMS],
        "grads": {name: [[None if g is None else flat(g) for g in gs] for gs in seq]
                  for name, seq in SEQUENCES.items()},
        "optimizers": [dict(name=name, type=cls, options=jsonable(kwargs), grads=seq,
                            steps=run_optimizer(cls, kwargs, SEQUENCES[seq]))
                       for name, cls, kwargs, seq in CASES],
        "clip_grad_norm": clip_norm_cases(),
        "clip_grad_value": clip_value_cases(),
        "schedulers": scheduler_cases(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # Python's float repr round-trips, so the float64 values are stored exactly.
    OUT.write_text(dumps(fixture) + "\n")
    print(f"wrote {OUT} ({len(CASES)} optimiser cases)")


if __name__ == "__main__":
    main()
