#!/usr/bin/env bash
# --encoder cnn (nn/conv_encoder.h) through the command line: seq2seq (an LSTM decoder of 2
# layers, so that c initialises h and the cell state of both) and attention learn the reverse task
# well past chance (which is ~0 sequences right); their checkpoints keep the encoder in the config
# and give, through eval, the dev figures training reported, and translate reads them. A few
# seconds in all. Usage: cnn_encoder.sh path/to/seqgrad
set -eu
seqgrad="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $1"; [ -f "$tmp/err" ] && cat "$tmp/err"; exit 1; }

task=(--task reverse --min-len 2 --max-len 5 --threads 1)
small=(--encoder cnn --conv-layers 2 --kernel 3 --emb 16 --hidden 32)
accuracy() { sed 's/.*"dev_sequence_accuracy":\([0-9.]*\).*/\1/' "$1"; }

check_model() {  # check_model name min_accuracy steps args...
  local name="$1" min="$2" steps="$3"
  shift 3
  "$seqgrad" train "${task[@]}" "${small[@]}" --model "$name" "$@" --steps "$steps" \
    --eval-every "$steps" --quiet --out "$tmp/$name" > "$tmp/train.json" 2> "$tmp/err" ||
    fail "$name: train"
  local acc
  acc=$(accuracy "$tmp/train.json")
  awk -v a="$acc" -v m="$min" 'BEGIN { exit !(a >= m) }' ||
    fail "$name --encoder cnn: dev sequence accuracy $acc < $min after $steps steps"
  "$seqgrad" info --checkpoint "$tmp/$name/best.safetensors" > "$tmp/info" 2> "$tmp/err"
  grep -q '"encoder":"cnn"' "$tmp/info" || fail "$name: the config in the checkpoint"
  grep -q '^encoder.convolutions.1.weight ' "$tmp/info" || fail "$name: the encoder's parameters"
  # One evaluation, at the last step: best.safetensors is what it scored.
  "$seqgrad" eval --checkpoint "$tmp/$name/best.safetensors" "${task[@]}" > "$tmp/eval.json" \
    2> "$tmp/err" || fail "$name: eval"
  grep -q "\"sequence_accuracy\": $acc" "$tmp/eval.json" ||
    fail "$name: eval gives $(cat "$tmp/eval.json"), training said $acc"
  printf 'abcd\nxy\n' | "$seqgrad" translate --checkpoint "$tmp/$name/best.safetensors" \
    > "$tmp/out" 2> "$tmp/err" || fail "$name: translate"
  [ "$(wc -l < "$tmp/out")" -eq 2 ] || fail "$name: translate wrote $(wc -l < "$tmp/out") lines"
  echo "$name --encoder cnn: dev sequence accuracy $acc after $steps steps; eval and translate read it"
}

check_model attention 0.4 300
check_model seq2seq 0.04 600 --cell lstm --layers 2
