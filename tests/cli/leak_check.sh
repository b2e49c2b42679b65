#!/usr/bin/env bash
# A short life of each model through the command-line program, run to completion: train (with
# dropout, bucketing, a resume and an evaluation), eval with beam search, translate, info. In the
# sanitizer build (scripts/test-sanitizers) LeakSanitizer checks every one of these processes at
# exit, and any leak or sanitizer report makes it exit non-zero, which fails this test.
# Usage: leak_check.sh path/to/seqgrad
set -u
seqgrad="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() {
  if ! "$@" > "$tmp/out" 2> "$tmp/err" < "$tmp/in"; then
    echo "failed: $*"
    grep -m 20 -E "LeakSanitizer|ERROR|SUMMARY|runtime error|Direct leak|#[0-9]" "$tmp/err" ||
      tail -20 "$tmp/err"
    exit 1
  fi
}
printf 'abc\nhello\n' > "$tmp/in"
common=(--task reverse --min-len 2 --max-len 8 --emb 8 --hidden 16 --batch 8 --threads 2
  --dropout 0.1 --bucket --eval-every 10)
for model in cho seq2seq attention; do
  out="$tmp/$model"
  run "$seqgrad" train --model "$model" "${common[@]}" --steps 10 --out "$out"
  run "$seqgrad" train --model "$model" "${common[@]}" --steps 20 --out "$out" --resume
  run "$seqgrad" eval --checkpoint "$out/best.safetensors" --task reverse --beam 3 --by-length "$tmp/by_length.csv"
  run "$seqgrad" translate --checkpoint "$out/last.safetensors" --beam 2
  run "$seqgrad" info --checkpoint "$out/last.safetensors"
done
# The convolutional encoder too: dropout inside it, beam search over its outputs.
for model in seq2seq attention; do
  out="$tmp/$model-cnn"
  run "$seqgrad" train --model "$model" --encoder cnn --conv-layers 2 "${common[@]}" --steps 10 --out "$out"
  run "$seqgrad" eval --checkpoint "$out/best.safetensors" --task reverse --beam 3
  run "$seqgrad" translate --checkpoint "$out/last.safetensors" --beam 2
done
# An error path too: the exception unwinds through the trainer and must free what it held.
if "$seqgrad" train --model cho --task reverse --steps 5 --lr 1e12 --emb 8 --hidden 16 \
  --out "$tmp/diverge" > /dev/null 2> "$tmp/err"; then
  echo "a diverging run (lr 1e12) should have stopped with an error"
  exit 1
fi
if grep -q -E "LeakSanitizer|AddressSanitizer|runtime error" "$tmp/err"; then
  grep -m 20 -E "LeakSanitizer|ERROR|SUMMARY|runtime error|Direct leak|#[0-9]" "$tmp/err"
  exit 1
fi
echo "leak check: 3 models (2 also with --encoder cnn) through train, resume, eval, translate, info and an error exit: clean"
