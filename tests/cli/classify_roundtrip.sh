#!/usr/bin/env bash
# `seqgrad classify` on a small made-up image set (IDX files written here: 64 training and 32 test
# images of random pixels, labels 0-9): it writes a run folder whose checkpoint `seqgrad eval`
# reads back, scoring the test images to the accuracy the training reported; a second run into
# the same folder is refused, --resume continues it. Usage: classify_roundtrip.sh path/to/seqgrad
set -eu
seqgrad="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/made_up_images.sh"
made_up_images "$tmp"
args=(--data-dir "$tmp" --batch 16 --threads 1 --quiet --out "$tmp/run")
"$seqgrad" classify "${args[@]}" --epochs 1 > "$tmp/train.json"
grep -q '"epochs": 1, "test_accuracy": ' "$tmp/train.json"
trained=$(sed 's/.*"test_accuracy": \([0-9.]*\).*/\1/' "$tmp/train.json")
for f in options.json metrics.csv last.safetensors best.safetensors last.state.safetensors; do
  [ -f "$tmp/run/$f" ] || { echo "classify wrote no $f"; exit 1; }
done
"$seqgrad" eval --checkpoint "$tmp/run/best.safetensors" --data-dir "$tmp" > "$tmp/eval.json"
grep -q "\"images\": 32, \"accuracy\": $trained}" "$tmp/eval.json" ||
  { echo "eval read back $(cat "$tmp/eval.json"), training reported $trained"; exit 1; }
if "$seqgrad" classify "${args[@]}" --epochs 1 2> "$tmp/err"; then echo "a run folder trained over"; exit 1; fi
grep -q "already holds a run" "$tmp/err"
"$seqgrad" classify "${args[@]}" --epochs 2 --resume > "$tmp/resumed.json"
grep -q '"epochs": 2,' "$tmp/resumed.json"
echo "classify: checkpoint read back by eval ($trained), resumed to a second epoch"
