#!/usr/bin/python3
"""Writes tests/fixtures/rnn.json: PyTorch reference values for seqgrad's recurrent modules.

Run with Debian's python3 (torch 1.13):  /usr/bin/python3 tools/make_rnn_fixtures.py

Cases: nn.RNN (tanh, relu), nn.LSTM and nn.GRU with one and two layers, bidirectional, batch_first,
an explicit initial state and variable lengths (pack_padded_sequence(enforce_sorted=False), then
pad_packed_sequence(total_length=T)); nn.RNNCell, nn.LSTMCell and nn.GRUCell for one step; and
the reset-before GRU of Cho et al. (2014), EncoderGRU.step of /work/shared/reference/cho.py,
run over a sequence.

Each case records the module's configuration, its parameters by PyTorch name, the input, the
initial state (when one is given), the lengths (when given), the outputs ("output" [T, B, D*H] or
[B, T, D*H], absent for the cells, and "state": [h_n] or [h_n, c_n]) and the gradients of

    loss = sum(output * out_weight) + sum_k sum(state[k] * state_weight[k])

with respect to every parameter, the input and the initial state. The weights out_weight and
state_weight are fixed random tensors, recorded too. Parameters, inputs, initial states and loss
weights are float32 values, stored with the shortest decimals that give them back in float32 (the
C++ side rounds them to float32 before any use). "float32" holds PyTorch's float32 results. "float64" holds the same computation in float64 from
the same (float32-representable) values, rounded to 13 significant digits, so that a float64 run
of seqgrad can be checked far more tightly than float32 rounding allows.
"""

import copy
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch.manual_seed(20240611)  # the modules' initial weights
GEN = torch.Generator().manual_seed(1406)  # inputs, initial states and loss weights


def randn(*shape):
    return torch.randn(shape, generator=GEN, dtype=torch.float32)


def enc32(t):
    """A float32 tensor, each value with the shortest decimals that give it back in float32."""
    t = t.detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "data": [float(str(v)) for v in t.reshape(-1).numpy()]}


def enc64(t):
    t = t.detach().to(torch.float64).contiguous()
    return {"shape": list(t.shape), "data": [float("%.13g" % v) for v in t.reshape(-1).tolist()]}


class EncoderGRU(nn.Module):
    """Cho et al.'s reset-before GRU (sec. 2.3), as EncoderGRU in /work/shared/reference/cho.py:
    the reset gate scales h before U. Initialised like PyTorch's GRUCell."""

    def __init__(self, E, H):
        super().__init__()
        self.H = H
        self.weight_ih = nn.Parameter(torch.empty(3 * H, E))
        self.weight_hh = nn.Parameter(torch.empty(3 * H, H))
        self.bias_ih = nn.Parameter(torch.empty(3 * H))
        self.bias_hh = nn.Parameter(torch.empty(3 * H))
        for p in self.parameters():
            nn.init.uniform_(p, -H ** -0.5, H ** -0.5)

    def step(self, x, h):
        H = self.H
        gi = F.linear(x, self.weight_ih, self.bias_ih)
        U, b = self.weight_hh, self.bias_hh
        gh_rz = F.linear(h, U[: 2 * H], b[: 2 * H])
        r = torch.sigmoid(gi[:, :H] + gh_rz[:, :H])
        z = torch.sigmoid(gi[:, H:2 * H] + gh_rz[:, H:])
        n = torch.tanh(gi[:, 2 * H:] + F.linear(r * h, U[2 * H:], b[2 * H:]))
        return z * h + (1 - z) * n

    def forward(self, x, h, lengths):
        """x [T, B, E]; a sequence keeps its state and outputs zeros past its length (as
        Cho.encode in cho.py, and as seqgrad's cells do)."""
        T = x.shape[0]
        lengths = torch.tensor(lengths if lengths is not None else [T] * x.shape[1])
        outs = []
        for t in range(T):
            h_new = self.step(x[t], h)
            live = (t < lengths).unsqueeze(1)
            h = torch.where(live, h_new, h)
            outs.append(torch.where(live, h_new, torch.zeros_like(h_new)))
        return torch.stack(outs, 0), h


CASES = []


def run(module, kind, x, state0, lengths, batch_first):
    """Forward pass: returns (output or None, [state tensors])."""
    if kind in ("RNN", "LSTM", "GRU"):
        hx = None
        if state0:
            hx = tuple(state0) if kind == "LSTM" else state0[0]
        if lengths is not None:
            T = x.shape[1] if batch_first else x.shape[0]
            packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first,
                                          enforce_sorted=False)
            out, st = module(packed, hx)
            out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
        else:
            out, st = module(x, hx)
        return out, list(st) if isinstance(st, tuple) else [st]
    if kind == "EncoderGRU":
        h0 = state0[0] if state0 else x.new_zeros(x.shape[1], module.H)
        out, h = module(x, h0, lengths)
        return out, [h]
    # The cells: one step.
    hx = None
    if state0:
        hx = tuple(state0) if kind == "LSTMCell" else state0[0]
    st = module(x, hx)
    return None, list(st) if isinstance(st, tuple) else [st]


def compute(module, kind, x, state0, lengths, batch_first, weights, dtype):
    """Outputs and gradients of the weighted-sum loss in `dtype`."""
    m = copy.deepcopy(module).to(dtype)
    xl = x.detach().to(dtype).clone().requires_grad_(True)
    sl = [s.detach().to(dtype).clone().requires_grad_(True) for s in state0]
    out, st = run(m, kind, xl, sl, lengths, batch_first)
    loss = 0
    if out is not None:
        loss = loss + (out * weights["output"].to(dtype)).sum()
    for s, w in zip(st, weights["state"]):
        loss = loss + (s * w.to(dtype)).sum()
    loss.backward()
    return {
        "output": out,
        "state": st,
        "grads": {
            "params": {n: p.grad for n, p in m.named_parameters()},
            "input": xl.grad,
            "state": [s.grad for s in sl],
        },
    }


def encode_result(r, enc):
    d = {"state": [enc(s) for s in r["state"]],
         "grads": {"params": {n: enc(g) for n, g in r["grads"]["params"].items()},
                   "input": enc(r["grads"]["input"]),
                   "state": [enc(g) for g in r["grads"]["state"]]}}
    if r["output"] is not None:
        d["output"] = enc(r["output"])
    return d


def case(name, kind, config, module, x, state0=(), lengths=None):
    module = module.float()
    batch_first = config.get("batch_first", False)
    state0 = list(state0)
    # Shapes of the results, from a float32 run.
    out, st = run(module, kind, x, state0, lengths, batch_first)
    weights = {"output": randn(*out.shape) if out is not None else None,
               "state": [randn(*s.shape) for s in st]}
    r32 = compute(module, kind, x, state0, lengths, batch_first, weights, torch.float32)
    r64 = compute(module, kind, x, state0, lengths, batch_first, weights, torch.float64)
    c = {
        "name": name,
        "module": kind,
        "config": config,
        "params": {n: enc32(p) for n, p in module.named_parameters()},
        "input": enc32(x),
        "initial_state": [enc32(s) for s in state0],
        "state_weight": [enc32(w) for w in weights["state"]],
        "float32": encode_result(r32, enc32),
        "float64": encode_result(r64, enc64),
    }
    if lengths is not None:
        c["lengths"] = list(lengths)
    if out is not None:
        c["out_weight"] = enc32(weights["output"])
    CASES.append(c)


# --- nn.RNN, nn.LSTM, nn.GRU --------------------------------------------------------------------
MODULES = [("RNN", "tanh"), ("RNN", "relu"), ("LSTM", None), ("GRU", None)]


def make_module(kind, nonlinearity, I, H, L=1, bidirectional=False, batch_first=False):
    cls = getattr(nn, kind)
    kw = {"nonlinearity": nonlinearity} if nonlinearity else {}
    return cls(I, H, num_layers=L, bidirectional=bidirectional, batch_first=batch_first, **kw)


def module_case(label, kind, nonlinearity, T, B, I, H, L=1, bidirectional=False,
                batch_first=False, initial_state=False, lengths=None):
    config = {"input_size": I, "hidden_size": H, "num_layers": L, "bidirectional": bidirectional,
              "batch_first": batch_first}
    if nonlinearity:
        config["nonlinearity"] = nonlinearity
    name = f"{kind}" + (f" {nonlinearity}" if nonlinearity else "") + f" {label}"
    module = make_module(kind, nonlinearity, I, H, L, bidirectional, batch_first)
    x = randn(B, T, I) if batch_first else randn(T, B, I)
    state0 = []
    if initial_state:
        D = 2 if bidirectional else 1
        state0 = [randn(L * D, B, H) for _ in range(2 if kind == "LSTM" else 1)]
    case(name, kind, config, module, x, state0, lengths)


for kind, nl in MODULES:
    module_case("single layer", kind, nl, T=5, B=3, I=4, H=3)
    module_case("2 layers", kind, nl, T=4, B=2, I=3, H=2, L=2)
    module_case("bidirectional", kind, nl, T=4, B=2, I=3, H=2, bidirectional=True)
    module_case("2 layers bidirectional", kind, nl, T=4, B=2, I=3, H=2, L=2, bidirectional=True)
    module_case("batch_first", kind, nl, T=4, B=3, I=2, H=3, batch_first=True)
    module_case("initial state", kind, nl, T=4, B=3, I=3, H=2, initial_state=True)
    module_case("variable lengths", kind, nl, T=5, B=3, I=2, H=3, lengths=[3, 5, 1])
    module_case("2 layers bidirectional batch_first initial state variable lengths", kind, nl,
                T=4, B=3, I=3, H=2, L=2, bidirectional=True, batch_first=True,
                initial_state=True, lengths=[2, 4, 3])

# --- nn.RNNCell, nn.LSTMCell, nn.GRUCell ----------------------------------------------------------
CELLS = [("RNNCell", "tanh"), ("RNNCell", "relu"), ("LSTMCell", None), ("GRUCell", None)]
for kind, nl in CELLS:
    for with_state in (False, True):
        I, H, B = 4, 3, 3
        kw = {"nonlinearity": nl} if nl else {}
        module = getattr(nn, kind)(I, H, **kw)
        config = {"input_size": I, "hidden_size": H}
        if nl:
            config["nonlinearity"] = nl
        state0 = []
        if with_state:
            state0 = [randn(B, H) for _ in range(2 if kind == "LSTMCell" else 1)]
        name = kind + (f" {nl}" if nl else "") + (" with state" if with_state else " zero state")
        case(name, kind, config, module, randn(B, I), state0)

# --- Cho et al.'s reset-before GRU ---------------------------------------------------------------
for label, T, B, I, H, with_state, lengths in [
        ("zero state", 5, 3, 4, 3, False, None),
        ("initial state", 4, 2, 3, 2, True, None),
        ("initial state variable lengths", 5, 3, 2, 3, True, [4, 1, 5])]:
    case(f"EncoderGRU {label}", "EncoderGRU", {"input_size": I, "hidden_size": H},
         EncoderGRU(I, H), randn(T, B, I), [randn(B, H)] if with_state else [], lengths)

# --- write --------------------------------------------------------------------------------------
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
path = os.path.join(root, "tests", "fixtures", "rnn.json")
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump({"generator": "tools/make_rnn_fixtures.py", "torch": torch.__version__,
               "cases": CASES}, f, indent=None, separators=(",", ":"))
    f.write("\n")
print(f"wrote {len(CASES)} cases to {path} ({os.path.getsize(path)} bytes)")
