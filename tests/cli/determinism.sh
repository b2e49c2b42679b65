#!/usr/bin/env bash
# Determinism: the same command (seed, thread count) gives bitwise-identical parameters, for each
# model at 1 and 2 threads. Usage: determinism.sh path/to/seqgrad
set -eu
seqgrad="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(--task reverse --min-len 3 --max-len 12 --emb 16 --hidden 32 --steps 40 --eval-every 40
  --seed 9 --dropout 0.1 --bucket)
for model in cho seq2seq attention; do
  for threads in 1 2; do
    for run in a b; do
      "$seqgrad" train --model "$model" "${common[@]}" --threads "$threads" \
        --out "$tmp/$model$threads$run" > /dev/null 2>&1
    done
    cmp "$tmp/${model}${threads}a/last.safetensors" "$tmp/${model}${threads}b/last.safetensors"
  done
done
echo "determinism: identical parameters from identical commands (3 models x 1, 2 threads)"
