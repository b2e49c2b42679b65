#!/usr/bin/python3
"""Writes tests/fixtures/nn.json: PyTorch reference values for the nn/ functional ops.

Run with Debian's python3 (torch 1.13):  /usr/bin/python3 tools/make_nn_fixtures.py

Each case records, in float64, the op's inputs and parameters, its output, and the gradients of
sum(output * out_weight) with respect to every floating input (out_weight is a fixed random
tensor of the output's shape, also recorded). Integer inputs (class indices, embedding ids) are
recorded under "ints". The C++ side (run_fixture_op in tests/nn/nn_test_util.h) maps each "op"
to a seqgrad call with the case's "options", so keep the two in step when adding an op.
"""

import json
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
GEN = torch.Generator().manual_seed(20240607)


def randn(*shape):
    return torch.randn(shape, generator=GEN)


def rand(*shape):
    return torch.rand(shape, generator=GEN)


def encode(t):
    t = t.detach().to(torch.float64).contiguous()
    return {"shape": list(t.shape), "data": t.reshape(-1).tolist()}


def encode_int(t):
    return {"shape": list(t.shape), "data": [int(v) for v in t.reshape(-1).tolist()]}


CASES = []


def case(name, op, fn, tensors, ints=None, options=None, grad_of=None):
    """Runs fn(**tensors, **ints) and records everything.

    grad_of: names of the tensors whose gradients are recorded (default: all of them).
    """
    ints = ints or {}
    leaves = {k: v.clone().requires_grad_(True) for k, v in tensors.items()}
    out = fn(**leaves, **ints)
    out_weight = randn(*out.shape)  # 0-d for a reduced loss
    (out * out_weight).sum().backward()
    names = grad_of if grad_of is not None else list(tensors)
    grads = {}
    for k in names:
        g = leaves[k].grad
        grads[k] = encode(g if g is not None else torch.zeros_like(leaves[k]))
    CASES.append({
        "name": name,
        "op": op,
        "options": options or {},
        "tensors": {k: encode(v) for k, v in tensors.items()},
        "ints": {k: encode_int(v) for k, v in ints.items()},
        "output": encode(out),
        "out_weight": encode(out_weight),
        "grads": grads,
    })


def no_ties(x):
    """Distinct values, so max pooling's argmax (and so its gradient) is unambiguous."""
    flat = x.reshape(-1)
    assert len(set(flat.tolist())) == flat.numel()
    return x


# --- linear -------------------------------------------------------------------------------------
case("linear 2-D with bias", "linear", lambda x, weight, bias: F.linear(x, weight, bias),
     {"x": randn(4, 3), "weight": randn(5, 3), "bias": randn(5)})
case("linear 3-D with bias", "linear", lambda x, weight, bias: F.linear(x, weight, bias),
     {"x": randn(2, 3, 4), "weight": randn(2, 4), "bias": randn(2)})
case("linear 2-D without bias", "linear", lambda x, weight: F.linear(x, weight),
     {"x": randn(3, 4), "weight": randn(6, 4)})
case("linear 1-D input", "linear", lambda x, weight, bias: F.linear(x, weight, bias),
     {"x": randn(3), "weight": randn(2, 3), "bias": randn(2)})

# --- embedding ----------------------------------------------------------------------------------
case("embedding repeated ids", "embedding", lambda weight, ids: F.embedding(ids, weight),
     {"weight": randn(5, 3)}, ints={"ids": torch.tensor([[1, 3, 1], [0, 3, 3]])})
case("embedding padding_idx", "embedding",
     lambda weight, ids: F.embedding(ids, weight, padding_idx=2),
     {"weight": randn(4, 3)}, ints={"ids": torch.tensor([2, 0, 2, 1, 0])},
     options={"padding_idx": 2})
case("embedding negative padding_idx", "embedding",
     lambda weight, ids: F.embedding(ids, weight, padding_idx=-1),
     {"weight": randn(4, 2)}, ints={"ids": torch.tensor([[3, 0], [3, 1]])},
     options={"padding_idx": -1})

# --- conv2d -------------------------------------------------------------------------------------
def conv2d_case(name, n, c, h, w, oc, kh, kw, bias=True, stride=(1, 1), padding=(0, 0),
                dilation=(1, 1)):
    tensors = {"x": randn(n, c, h, w), "weight": randn(oc, c, kh, kw)}
    if bias:
        tensors["bias"] = randn(oc)
    options = {"stride": list(stride), "padding": list(padding), "dilation": list(dilation)}
    case(name, "conv2d",
         lambda x, weight, bias=None: F.conv2d(x, weight, bias, stride, padding, dilation),
         tensors, options=options)


conv2d_case("conv2d stride 1", 2, 2, 5, 4, 3, 3, 3)
conv2d_case("conv2d stride 2 padding 1", 2, 3, 6, 5, 2, 3, 3, stride=(2, 2), padding=(1, 1))
conv2d_case("conv2d dilation 2", 1, 2, 7, 6, 2, 3, 2, dilation=(2, 2))
conv2d_case("conv2d without bias", 2, 3, 4, 4, 4, 2, 2, bias=False)
conv2d_case("conv2d asymmetric stride, padding and dilation", 2, 2, 7, 8, 3, 3, 2,
            stride=(2, 1), padding=(1, 0), dilation=(1, 2))
conv2d_case("conv2d 1x1 kernel", 2, 4, 3, 3, 2, 1, 1)

# --- conv1d -------------------------------------------------------------------------------------
def conv1d_case(name, n, c, length, oc, k, bias=True, stride=1, padding=0, dilation=1):
    tensors = {"x": randn(n, c, length), "weight": randn(oc, c, k)}
    if bias:
        tensors["bias"] = randn(oc)
    options = {"stride": stride, "padding": padding, "dilation": dilation}
    case(name, "conv1d",
         lambda x, weight, bias=None: F.conv1d(x, weight, bias, stride, padding, dilation),
         tensors, options=options)


conv1d_case("conv1d stride 1", 2, 3, 7, 2, 3)
conv1d_case("conv1d stride 2 padding 1 dilation 2", 2, 2, 9, 3, 3, stride=2, padding=1,
            dilation=2)
conv1d_case("conv1d without bias", 1, 2, 5, 2, 2, bias=False)

# --- pooling ------------------------------------------------------------------------------------
def pool_case(name, op, shape, kernel, stride, padding):
    fn = F.max_pool2d if op == "max_pool2d" else F.avg_pool2d
    x = randn(*shape)
    if op == "max_pool2d":
        no_ties(x)
    case(name, op, lambda x: fn(x, kernel, stride, padding), {"x": x},
         options={"kernel": kernel, "stride": stride, "padding": padding})


pool_case("max_pool2d kernel 2 stride 2", "max_pool2d", (2, 2, 4, 6), 2, 2, 0)
pool_case("max_pool2d kernel 3 stride 2 padding 1", "max_pool2d", (1, 3, 5, 6), 3, 2, 1)
pool_case("max_pool2d kernel 3 stride 1", "max_pool2d", (2, 1, 5, 5), 3, 1, 0)
pool_case("avg_pool2d kernel 2 stride 2", "avg_pool2d", (2, 2, 4, 5), 2, 2, 0)
pool_case("avg_pool2d kernel 3 stride 2 padding 1", "avg_pool2d", (1, 3, 5, 6), 3, 2, 1)
pool_case("avg_pool2d kernel 3 stride 1 padding 1", "avg_pool2d", (2, 1, 4, 4), 3, 1, 1)

# --- layer_norm and gelu ------------------------------------------------------------------------
case("layer_norm affine over 1 dim", "layer_norm",
     lambda x, weight, bias: F.layer_norm(x, [4], weight, bias, eps=1e-5),
     {"x": randn(3, 4), "weight": randn(4), "bias": randn(4)},
     options={"normalized_shape": [4], "eps": 1e-5})
case("layer_norm affine over 2 dims", "layer_norm",
     lambda x, weight, bias: F.layer_norm(x, [3, 4], weight, bias, eps=1e-5),
     {"x": randn(2, 3, 4), "weight": randn(3, 4), "bias": randn(3, 4)},
     options={"normalized_shape": [3, 4], "eps": 1e-5})
case("layer_norm without affine over 1 dim", "layer_norm",
     lambda x: F.layer_norm(x, [5], eps=1e-3), {"x": randn(2, 3, 5)},
     options={"normalized_shape": [5], "eps": 1e-3})
case("layer_norm without affine over 2 dims", "layer_norm",
     lambda x: F.layer_norm(x, [2, 3], eps=1e-5), {"x": randn(4, 2, 3)},
     options={"normalized_shape": [2, 3], "eps": 1e-5})
case("gelu", "gelu", lambda x: F.gelu(x), {"x": randn(3, 5) * 2})

# --- losses -------------------------------------------------------------------------------------
REDUCTIONS = ["mean", "sum", "none"]


def ce_case(name, logits, target, reduction, ignore_index=-100, label_smoothing=0.0):
    case(name, "cross_entropy",
         lambda logits, target: F.cross_entropy(logits, target, reduction=reduction,
                                                ignore_index=ignore_index,
                                                label_smoothing=label_smoothing),
         {"logits": logits}, ints={"target": target},
         options={"reduction": reduction, "ignore_index": ignore_index,
                  "label_smoothing": label_smoothing})


ce_logits = randn(5, 4) * 2
ce_target = torch.tensor([3, 0, 1, 3, 2])
ce_ignored = torch.tensor([3, -100, 1, 2, -100])
ce_logits3 = randn(2, 3, 4)
ce_target3 = torch.tensor([[0, 2, 1, 2], [1, 1, 0, 2]])
ce_ignored3 = torch.tensor([[0, 2, 1, 2], [1, 1, 0, 2]])  # ignore_index=1 below
for red in REDUCTIONS:
    ce_case(f"cross_entropy {red}", ce_logits, ce_target, red)
    ce_case(f"cross_entropy {red} ignore_index", ce_logits, ce_ignored, red)
    ce_case(f"cross_entropy {red} label_smoothing", ce_logits, ce_target, red,
            label_smoothing=0.1)
    ce_case(f"cross_entropy {red} ignore_index label_smoothing", ce_logits, ce_ignored, red,
            label_smoothing=0.25)
    ce_case(f"cross_entropy {red} 3-D logits", ce_logits3, ce_target3, red)
    ce_case(f"cross_entropy {red} 3-D logits ignore_index 1 label_smoothing", ce_logits3,
            ce_ignored3, red, ignore_index=1, label_smoothing=0.2)


def nll_case(name, log_probs, target, reduction, ignore_index=-100):
    case(name, "nll_loss",
         lambda log_probs, target: F.nll_loss(log_probs, target, reduction=reduction,
                                              ignore_index=ignore_index),
         {"log_probs": log_probs}, ints={"target": target},
         options={"reduction": reduction, "ignore_index": ignore_index})


nll_input = F.log_softmax(randn(5, 4), dim=1)
nll_input3 = F.log_softmax(randn(2, 3, 4), dim=1)
for red in REDUCTIONS:
    nll_case(f"nll_loss {red}", nll_input, ce_target, red)
    nll_case(f"nll_loss {red} ignore_index", nll_input, ce_ignored, red)
    nll_case(f"nll_loss {red} 3-D", nll_input3, ce_target3, red, ignore_index=1)

for red in REDUCTIONS:
    case(f"mse_loss {red}", "mse_loss",
         lambda input, target: F.mse_loss(input, target, reduction=red),
         {"input": randn(3, 4), "target": randn(3, 4)}, options={"reduction": red})
    # Logits away from 0, where |x| in the stable formula has its kink.
    logits = randn(4, 3)
    logits = torch.where(logits.abs() < 0.1, logits.sign() * 0.3, logits) * 3
    case(f"binary_cross_entropy_with_logits {red}", "binary_cross_entropy_with_logits",
         lambda logits, target: F.binary_cross_entropy_with_logits(logits, target, reduction=red),
         {"logits": logits, "target": rand(4, 3)}, options={"reduction": red})

# --- write --------------------------------------------------------------------------------------
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
path = os.path.join(root, "tests", "fixtures", "nn.json")
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump({"generator": "tools/make_nn_fixtures.py", "torch": torch.__version__,
               "cases": CASES}, f, indent=None, separators=(",", ":"))
    f.write("\n")
print(f"wrote {len(CASES)} cases to {path}")
