#!/usr/bin/python3
"""Turns `bench_matmul --benchmark_format=json` output (stdin) into the Markdown table of
docs/performance.md: median GFLOP/s of seqgrad::matmul and raw cblas_sgemm per shape and thread
count, and their ratio.

    build/bench/bench_matmul --benchmark_repetitions=5 --benchmark_format=json | bench/summarize_matmul.py
"""
import json
import sys

rows = {}
for b in json.load(sys.stdin)["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    name = b["run_name"]  # e.g. "seqgrad_matmul/64x256 @ 256x768/threads:1"
    impl, rest = name.split("/", 1)
    shape, threads = rest.rsplit("/threads:", 1)
    threads = threads.split("/")[0]  # drop "/min_time:..." 
    rows.setdefault((shape, int(threads)), {})[impl] = b["GFLOP/s"]

print("| shape | threads | seqgrad GFLOP/s | cblas_sgemm GFLOP/s | seqgrad / sgemm |")
print("|---|---|---|---|---|")
for (shape, threads), r in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    s, c = r["seqgrad_matmul"], r["cblas_sgemm"]
    print(f"| {shape} | {threads} | {s:.1f} | {c:.1f} | {s / c:.2f} |")
