#!/usr/bin/python3
"""Two seqgrad builds side by side on one bench_models row, interleaved, to see what a change did
on a machine whose speed drifts by 10-30% from run to run.

    git worktree add /tmp/base <commit> && cmake -S /tmp/base -B /tmp/base/build \\
        -DCMAKE_BUILD_TYPE=Release && cmake --build /tmp/base/build -j2 --target bench_models
    bench/ab_models.py --base /tmp/base/build --new build --rounds 5 -- \\
        --model seq2seq --mode decode --hidden 512 --steps 10 --threads 1

Each round runs the base build, then the new one, with the arguments after `--`; prints every
round's throughput (sequences/s for --mode decode, target tokens/s for train), the medians, and
new / base.
"""
import argparse
import json
import os
import statistics
import subprocess


def throughput(build, args, key):
    out = subprocess.run([os.path.join(build, "bench", "bench_models")] + args,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])[key]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="build folder of the base commit")
    ap.add_argument("--new", default="build", help="build folder of the change")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("bench_args", nargs=argparse.REMAINDER, help="-- then bench_models options")
    a = ap.parse_args()
    args = [x for x in a.bench_args if x != "--"]
    key = "sequences_per_s" if "decode" in args else "tokens_per_s"
    runs = {"base": [], "new": []}
    for _ in range(a.rounds):
        runs["base"].append(throughput(a.base, args, key))
        runs["new"].append(throughput(a.new, args, key))
    for name, values in runs.items():
        print(f"{name}: median {statistics.median(values):.1f}  rounds "
              + " ".join(f"{v:.0f}" for v in values))
    print(f"new / base: {statistics.median(runs['new']) / statistics.median(runs['base']):.3f}")


if __name__ == "__main__":
    main()
