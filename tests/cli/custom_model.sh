#!/usr/bin/env bash
# A model defined in one file outside the program (examples/custom_model.cpp, built as a plugin)
# is trained by `seqgrad train --model bag`, learns its task, and its checkpoint works with eval,
# translate (line by line, as it reads them) and info given the same plugin; without it, the checkpoint's model is named as unknown.
# Usage: custom_model.sh path/to/seqgrad path/to/libcustom_model.so
set -eu
seqgrad="$1"
plugin="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$seqgrad" --plugin "$plugin" train --help | grep -q -- "--model TEXT:{attention,bag,cho,seq2seq,transformer}"
"$seqgrad" --plugin "$plugin" train --model bag --task sort --min-len 3 --max-len 6 --emb 16 \
  --hidden 64 --lr 3e-3 --steps 800 --eval-every 800 --threads 1 --out "$tmp/bag" \
  > "$tmp/summary.json" 2> "$tmp/log"
# Sorting 3-6 letters from a bag of embeddings: most of the held-out set exactly right (87% here).
grep -q "\"stop_reason\":\"steps\",\"seconds\"" "$tmp/summary.json"
accuracy=$(sed 's/.*"dev_sequence_accuracy":\([0-9.]*\).*/\1/' "$tmp/summary.json")
awk -v a="$accuracy" 'BEGIN { exit !(a > 0.7) }' || {
  echo "bag on sort: only $accuracy exactly right"
  exit 1
}
"$seqgrad" --plugin "$plugin" eval --checkpoint "$tmp/bag/best.safetensors" --task sort > /dev/null 2>&1
[ "$(echo cab | "$seqgrad" --plugin "$plugin" translate --checkpoint "$tmp/bag/best.safetensors")" = abc ]
# translate answers each line as it is read, while its input stays open.
coproc translator { "$seqgrad" --plugin "$plugin" translate --checkpoint "$tmp/bag/best.safetensors"; }
echo bca >&"${translator[1]}"
read -r -t 20 answer <&"${translator[0]}" || { echo "translate did not answer a line at once"; exit 1; }
[ "$answer" = abc ] || { echo "translate answered '$answer'"; exit 1; }
echo dca >&"${translator[1]}"
read -r -t 20 answer <&"${translator[0]}" && [ "$answer" = acd ]
exec {translator[1]}>&-
wait "$translator_PID"
"$seqgrad" --plugin "$plugin" info --checkpoint "$tmp/bag/last.safetensors" | grep -q "^model  *bag"
if "$seqgrad" info --checkpoint "$tmp/bag/last.safetensors" 2> "$tmp/err"; then
  echo "a checkpoint of a plugin's model loaded without the plugin"
  exit 1
fi
grep -q "unknown model 'bag' (known: attention, cho, seq2seq, transformer)" "$tmp/err"
echo "custom model: trained, evaluated and decoded through the plugin"
