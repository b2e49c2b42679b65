#!/usr/bin/env bash
# What `seqgrad train` prints and writes: --version; --quiet (the JSON line only); off a
# terminal, one progress line and one evaluation line per phase and a last line saying why
# training stopped (--log-every adds lines); the options in the run folder and the checkpoints;
# eval --by-length's CSV apart from its JSON, and BLEU and chrF in that JSON; early stopping
# named in words and in the JSON; g2p's WER and PER in metrics.csv and the JSON.
# Usage: output.sh path/to/seqgrad
set -eu
seqgrad="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "$1"; [ -f "$tmp/err" ] && cat "$tmp/err"; exit 1; }

"$seqgrad" --version | grep -q '^seqgrad [0-9]*\.[0-9]*\.[0-9]*$' || fail "--version"

small=(--task reverse --min-len 2 --max-len 4 --emb 8 --hidden 8 --maxout 4 --threads 1)
"$seqgrad" train "${small[@]}" --steps 60 --eval-every 20 --quiet --out "$tmp/quiet" > "$tmp/out" 2> "$tmp/err"
[ ! -s "$tmp/err" ] || fail "--quiet wrote to stderr"
[ "$(wc -l < "$tmp/out")" -eq 1 ] && grep -q '"stop_reason":"steps"' "$tmp/out" || fail "--quiet"

"$seqgrad" train "${small[@]}" --steps 60 --eval-every 20 --out "$tmp/plain" > /dev/null 2> "$tmp/err"
[ "$(grep -c '^steps [0-9]*-[0-9]* done in ' "$tmp/err")" -eq 3 ] || fail "one line per phase"
[ "$(grep -c '^step [0-9]*: dev loss ' "$tmp/err")" -eq 3 ] || fail "one line per evaluation"
[ "$(grep -c '%' "$tmp/err")" -eq 0 ] || fail "progress lines within a phase without --log-every"
grep -q '^stopped at step 60: reached the step limit (60)$' "$tmp/err" || fail "stop line"

# The run's options are saved in the folder and in each checkpoint's metadata (the safetensors
# header is JSON text at the start of the file).
grep -q '"lr": 0.001' "$tmp/plain/options.json" || fail "options.json"
"$seqgrad" train "${small[@]}" --steps 20 --eval-every 20 --schedule cosine --warmup 5 \
  --adam-beta2 0.98 --quiet --out "$tmp/warm" > /dev/null
grep -q '"warmup": 5' "$tmp/warm/options.json" && grep -q '"adam_beta2": 0.98' "$tmp/warm/options.json" ||
  fail "cosine warm-up and Adam's beta2 in options.json"
head -c 4096 "$tmp/plain/best.safetensors" | grep -q '"options"' || fail "options in metadata"
# eval --by-length: the CSV to its own file, stdout the JSON line alone.
"$seqgrad" eval --checkpoint "$tmp/plain/best.safetensors" --task reverse --threads 1 \
  --by-length "$tmp/by_length.csv" > "$tmp/out" 2> /dev/null
[ "$(wc -l < "$tmp/out")" -eq 1 ] && grep -q '^{"loss": ' "$tmp/out" || fail "eval stdout"
grep -q ', "bleu": [0-9.]*, "chrf": [0-9.]*}$' "$tmp/out" || fail "eval JSON: bleu and chrf"
head -1 "$tmp/by_length.csv" | grep -q '^source_length,sequences,sequence_accuracy$' ||
  fail "eval --by-length CSV"

"$seqgrad" train "${small[@]}" --steps 60 --eval-every 20 --log-every 5 --out "$tmp/every" > /dev/null 2> "$tmp/err"
# Steps 5, 10 and 15 of each 20-step phase (its end has the "done" line).
[ "$(grep -c '^steps [0-9]*-[0-9]*  *[0-9]*%' "$tmp/err")" -eq 9 ] || fail "--log-every 5"

# A learning rate too small to change a float32 parameter: the dev loss cannot fall, and
# --patience 1 stops at the second evaluation.
"$seqgrad" train "${small[@]}" --steps 100000 --eval-every 2 --patience 1 --lr 1e-30 \
  --out "$tmp/early" > "$tmp/out" 2> "$tmp/err"
grep -q '"steps":4,"stop_reason":"early_stopping"' "$tmp/out" || fail "early stopping (JSON)"
grep -q '^stopped at step 4: early stopping: no lower dev loss than [0-9.]* in 1 evaluations$' \
  "$tmp/err" || fail "early stopping (words)"

if [ -f /usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict ]; then
  "$seqgrad" train --task g2p --emb 8 --hidden 8 --maxout 4 --steps 2 --eval-every 2 \
    --threads 1 --quiet --out "$tmp/g2p" > "$tmp/out"
  head -1 "$tmp/g2p/metrics.csv" | grep -q ',dev_wer,dev_per$' || fail "g2p metrics.csv"
  grep -q '"dev_wer":[0-9.]*,"dev_per":[0-9.]*' "$tmp/out" || fail "g2p JSON"
else
  echo "(g2p part skipped: CMUdict is not installed; scripts/deps installs pocketsphinx-en-us)"
fi
echo "output: --version, --quiet, one line per phase, --log-every, the stop reason, g2p metrics"
