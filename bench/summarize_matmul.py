#!/usr/bin/python3
"""Turns the `interleaved/...` rows (or, with the argument `packed`, the `packed/...` rows) of `bench_matmul --benchmark_format=json` (stdin) into the
Markdown table of docs/performance.md: per shape and thread count, the median over repetitions of
seqgrad::matmul's and raw cblas_sgemm's GFLOP/s when timed in the same loop, and their time ratio.

    build/bench/bench_matmul --benchmark_filter=interleaved --benchmark_repetitions=5 \
        --benchmark_format=json | bench/summarize_matmul.py
    build/bench/bench_matmul --benchmark_filter=packed --benchmark_repetitions=5 \
        --benchmark_format=json | bench/summarize_matmul.py packed
"""
import json
import sys

print("| shape | threads | seqgrad GFLOP/s | cblas_sgemm GFLOP/s | seqgrad time / sgemm time |")
print("|---|---|---|---|---|")
prefix = (sys.argv[1] if len(sys.argv) > 1 else "interleaved") + "/"
rows = []
for b in json.load(sys.stdin)["benchmarks"]:
    if b.get("aggregate_name") != "median" or not b["run_name"].startswith(prefix):
        continue
    shape, threads = b["run_name"].split("/", 1)[1].rsplit("/threads:", 1)
    threads = int(threads.split("/")[0])  # drop "/min_time:..."
    rows.append((threads, shape, b["seqgrad_GFLOP/s"], b["sgemm_GFLOP/s"], b["time_ratio"]))
for threads, shape, s, c, ratio in sorted(rows):
    print(f"| {shape} | {threads} | {s:.1f} | {c:.1f} | {ratio:.3f} |")
