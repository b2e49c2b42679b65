#!/usr/bin/python3
"""The PyTorch side of bench/autograd_bench.cpp and bench/matmul_bench.cpp, on the same machine.

    /usr/bin/python3 bench/torch_autograd.py [--threads 1]

Prints one JSON line per measurement: the per-op cost (microseconds) of forward + backward of the
same 100-op elementwise chain (25 rounds of y = sigmoid(tanh(y * w + b)), then sum) on a
1-element and a 64x256 float32 tensor, and torch.matmul GFLOP/s on the seq2seq GEMM shapes.
Threads are set by bench/torch_threads.py (OpenBLAS through ctypes as well as ATen).
"""
import argparse
import json
import time

import torch

from torch_threads import set_threads

OPS = 100


def chain(y, w, b):
    for _ in range(OPS // 4):
        y = torch.sigmoid(torch.tanh(y * w + b))
    return y


def best_per_iteration(fn, min_time=1.0, repeats=5):
    """Median over `repeats` runs of the mean time per call, each run lasting about min_time."""
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 0.2:
        fn()
        n += 1
    per_run = max(1, int(n * min_time / 0.2))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(per_run):
            fn()
        times.append((time.perf_counter() - t0) / per_run)
    times.sort()
    return times[len(times) // 2]


def bench_chain(shape):
    g = torch.Generator().manual_seed(0)
    x, w, b = (torch.randn(shape, generator=g, requires_grad=True) for _ in range(3))

    def step():
        loss = chain(x, w, b).sum()
        loss.backward()
        x.grad = w.grad = b.grad = None

    return best_per_iteration(step) / OPS * 1e6


SHAPES = [
    ("64x256 @ 256x768", 64, 256, 768, False, False),
    ("64x768 @ 768x256", 64, 768, 256, False, False),
    ("64x768 @ (256x768)^T", 64, 768, 256, False, True),
    ("(64x256)^T @ 64x768", 256, 64, 768, True, False),
    ("64x256 @ (768x256)^T", 64, 256, 768, False, True),
    ("(64x768)^T @ 64x256", 768, 64, 256, True, False),
]


def bench_matmul(m, k, n, ta, tb):
    a = torch.randn(k, m).t() if ta else torch.randn(m, k)
    b = torch.randn(n, k).t() if tb else torch.randn(k, n)
    secs = best_per_iteration(lambda: torch.matmul(a, b), min_time=0.5)
    return 2.0 * m * k * n / secs * 1e-9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    set_threads(args.threads)
    version = "pytorch " + torch.__version__
    for name, shape in (("1 element", (1,)), ("64x256", (64, 256))):
        print(json.dumps({"framework": version, "bench": "chain_forward_backward", "tensor": name,
                          "threads": args.threads, "us_per_op": round(bench_chain(shape), 3)}))
    for name, m, k, n, ta, tb in SHAPES:
        print(json.dumps({"framework": version, "bench": "matmul", "shape": name,
                          "threads": args.threads,
                          "gflops": round(bench_matmul(m, k, n, ta, tb), 1)}))


if __name__ == "__main__":
    main()
