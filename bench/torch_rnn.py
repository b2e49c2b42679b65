#!/usr/bin/python3
"""The PyTorch side of bench/rnn_bench.cpp: forward + backward of one nn.GRU and one nn.LSTM layer
over T = 20 steps, batch 64, input 64, hidden 256, loss = sum(weights * output), input requiring
grad. For N threads both settings are tried, N ATen + N OpenBLAS and 1 ATen + N OpenBLAS, and
the faster one is reported (with which it was).

    /usr/bin/python3 bench/torch_rnn.py [--threads 1]

Prints one JSON line per layer: milliseconds per forward + backward (best of 5 repeats of >= 1 s).
"""
import argparse
import json
import time

import torch
import torch.nn as nn

from torch_threads import set_threads

T, B, I, H = 20, 64, 64, 256


def ms_per_iteration(fn, min_time=1.0, repeats=5):
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < min_time:
            fn()
            n += 1
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e3


def measure(kind):
    torch.manual_seed(0)
    layer = (nn.GRU if kind == "gru" else nn.LSTM)(I, H)
    x = torch.randn(T, B, I, requires_grad=True)
    weights = torch.randn(T, B, H)

    def step():
        loss = (layer(x)[0] * weights).sum()
        layer.zero_grad(set_to_none=True)
        x.grad = None
        loss.backward()

    return ms_per_iteration(step)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    for kind in ("gru", "lstm"):
        results = []
        for aten in sorted({args.threads, 1}):
            set_threads(args.threads, aten)
            results.append((measure(kind), aten))
        ms, aten = min(results)
        print(json.dumps({"framework": "pytorch " + torch.__version__, "layer": kind,
                          "threads": args.threads, "aten_threads": aten,
                          "ms_per_forward_backward": round(ms, 3),
                          "sequences_per_s": round(B / ms * 1e3, 1)}))


if __name__ == "__main__":
    main()
