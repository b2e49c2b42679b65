#!/usr/bin/env bash
# `seqgrad train --data-parallel` (each batch split across the threads, one model replica each):
# the same command gives byte-identical parameters for each model, a run resumed after 20 steps
# ends where 60 uninterrupted steps do (dropout on: the replicas' generators follow the saved
# one), it learns (the dev loss falls), `classify --data-parallel` trains the CNN, and a batch
# smaller than the thread count is refused. Usage: data_parallel.sh path/to/seqgrad
set -eu
seqgrad="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(--task reverse --min-len 3 --max-len 10 --steps 40 --eval-every 20 --seed 9 --bucket
  --threads 2 --data-parallel)
for model in cho attention transformer; do
  case $model in
    transformer) size=(--d-model 32 --heads 2 --layers 1 --ffn 64 --dropout 0.1) ;;
    *) size=(--emb 16 --hidden 32 --dropout 0.1) ;;
  esac
  for run in a b; do
    "$seqgrad" train --model "$model" "${size[@]}" "${common[@]}" --out "$tmp/$model$run" \
      > "$tmp/$model$run.json" 2> /dev/null
  done
  cmp "$tmp/${model}a/last.safetensors" "$tmp/${model}b/last.safetensors"
  grep -q '"data_parallel": true' "$tmp/${model}a/options.json"
  # The dev loss at step 40 is below the one at step 20.
  losses=$(sed 's/.*"dev_loss":\([0-9.e+-]*\).*"step":\([0-9]*\).*/\2 \1/' \
    "$tmp/${model}a/metrics.jsonl" | tr '\n' ' ')
  awk -v l="$losses" 'BEGIN { split(l, f, " "); exit !(f[1] == 20 && f[3] == 40 && f[4] < f[2]) }' ||
    { echo "$model: dev loss did not fall (step loss ...: $losses)"; exit 1; }
done

args=(--model seq2seq --cell lstm --layers 2 --dropout 0.1 --task reverse --min-len 2 --max-len 8
  --emb 8 --hidden 16 --eval-every 20 --threads 2 --data-parallel --seed 3 --bucket)
"$seqgrad" train "${args[@]}" --steps 60 --out "$tmp/straight" > /dev/null 2>&1
"$seqgrad" train "${args[@]}" --steps 20 --out "$tmp/resumed" > /dev/null 2>&1
"$seqgrad" train "${args[@]}" --steps 60 --out "$tmp/resumed" --resume > /dev/null 2>&1
cmp "$tmp/straight/last.safetensors" "$tmp/resumed/last.safetensors"

if "$seqgrad" train --task reverse --batch 1 --threads 2 --data-parallel --steps 2 \
  --out "$tmp/small" 2> "$tmp/err"; then
  echo "a batch smaller than the thread count was accepted"
  exit 1
fi
grep -q "splits each batch across the 2 threads: --batch 1 is smaller" "$tmp/err"

# classify on 64 made-up images.
. "$(dirname "$0")/made_up_images.sh"
made_up_images "$tmp"
"$seqgrad" classify --data-dir "$tmp" --batch 16 --threads 2 --data-parallel --epochs 1 --quiet \
  --out "$tmp/cnn" > "$tmp/cnn.json"
grep -q '"epochs": 1, "test_accuracy": ' "$tmp/cnn.json"
grep -q '"data_parallel": true' "$tmp/cnn/options.json"
echo "data-parallel: identical runs, exact resume, falling dev loss (cho, attention, transformer), classify"
