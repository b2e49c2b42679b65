#!/usr/bin/python3
"""Writes tests/fixtures/higher_order.json: torch.autograd.functional (PyTorch 1.13) results in
float64 for tests/autograd/functional_test.cpp.

- "mlp": a 3-4-2 tanh MLP's mean squared error on 5 fixed rows, and its Hessian with respect to
  the four parameters (W1, b1, W2, b2), torch.autograd.functional.hessian; blocks row-major.
- "fn": f(a, b) = tanh(a @ b) * exp(-sum(a) / 10), a [2, 3], b [3, 4]: vjp with a cotangent v
  [2, 4] and jvp with tangents (ta, tb).

Run with Debian's /usr/bin/python3 (torch 1.13 installed) from anywhere:
    /usr/bin/python3 tools/make_higher_order_fixtures.py
"""

import json
import pathlib

import torch
from torch.autograd.functional import hessian, jvp, vjp

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "higher_order.json"
gen = torch.Generator().manual_seed(2112)


def randn(*shape):
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def flat(t):
    return t.detach().reshape(-1).tolist()


def tensor(t):
    return {"shape": list(t.shape), "data": flat(t)}


# The MLP: y = tanh(x W1^T + b1) W2^T + b2, loss = mean((y - target)^2).
X, TARGET = randn(5, 3), randn(5, 2)
PARAMS = (randn(4, 3) * 0.7, randn(4) * 0.3, randn(2, 4) * 0.7, randn(2) * 0.3)


def mlp_loss(w1, b1, w2, b2):
    h = torch.tanh(X @ w1.T + b1)
    return ((h @ w2.T + b2 - TARGET) ** 2).mean()


H = hessian(mlp_loss, PARAMS)
mlp = {
    "x": tensor(X),
    "target": tensor(TARGET),
    "params": [tensor(p) for p in PARAMS],
    "loss": mlp_loss(*PARAMS).item(),
    "hessian": [[tensor(H[i][j]) for j in range(4)] for i in range(4)],
}


def f(a, b):
    return torch.tanh(a @ b) * torch.exp(-a.sum() / 10)


A, B = randn(2, 3), randn(3, 4)
V = randn(2, 4)
TA, TB = randn(2, 3), randn(3, 4)
out, (va, vb) = vjp(f, (A, B), V)
_, jv = jvp(f, (A, B), (TA, TB))
fn = {
    "a": tensor(A), "b": tensor(B), "v": tensor(V), "ta": tensor(TA), "tb": tensor(TB),
    "output": tensor(out), "vjp_a": tensor(va), "vjp_b": tensor(vb), "jvp": tensor(jv),
}

OUT.write_text(json.dumps({"torch": torch.__version__, "mlp": mlp, "fn": fn}, indent=1) + "\n")
print(f"wrote {OUT}")
