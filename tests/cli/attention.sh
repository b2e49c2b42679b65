#!/usr/bin/env bash
# translate --show-attention: for the attention model and the Transformer, one SVG heatmap per
# input line (FILE.svg, FILE-2.svg, ...), well-formed, with one cell per (output, source) token
# pair, while the translations printed are those of plain translate; --attention-layer and
# --attention-head choose the Transformer's layer and head. Refused with one clear line: models
# without attention (cho, seq2seq), layers and heads the model does not have, the layer or head
# without --show-attention, and --beam. Usage: attention.sh path/to/seqgrad
set -u
seqgrad="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $1"
  [ -f "$tmp/err" ] && cat "$tmp/err"
  failures=$((failures + 1))
}

common=(--task reverse --min-len 3 --max-len 5 --steps 4 --eval-every 4 --threads 1 --quiet)
train() {  # train NAME options...
  local name="$1"
  shift
  "$seqgrad" train "${common[@]}" "$@" --out "$tmp/$name" > /dev/null 2> "$tmp/err" ||
    fail "training $name"
}
train attention --model attention --emb 8 --hidden 8
train transformer --model transformer --d-model 8 --heads 2 --layers 2 --ffn 8
train cho --model cho --emb 8 --hidden 8 --maxout 4
train seq2seq --model seq2seq --emb 8 --hidden 8

# The XML parses (with whichever parser the machine has) and holds rows x columns cells, where
# the columns are the source's tokens and its EOS and each row has a right-aligned label.
check_svg() {  # check_svg FILE SOURCE
  local file="$1" source="$2"
  [ -s "$file" ] || { fail "$file was not written"; return; }
  if command -v xmllint > /dev/null; then
    xmllint --noout "$file" 2> "$tmp/err" || fail "$file is not well-formed XML"
  elif command -v python3 > /dev/null; then
    python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$file" \
      2> "$tmp/err" || fail "$file is not well-formed XML"
  fi
  grep -q '<script' "$file" && fail "$file holds a script"
  local cells rows columns=$((${#source} + 1))
  cells=$(grep -o 'class="cell"' "$file" | wc -l)
  rows=$(grep -o 'text-anchor="end"' "$file" | wc -l)
  [ "$rows" -ge 1 ] && [ "$cells" -eq $((rows * columns)) ] ||
    fail "$file: $cells cells for $rows output tokens x $columns source tokens"
}

for model in attention transformer; do
  ckpt="$tmp/$model/last.safetensors"
  printf 'abc\nbcde\n' | "$seqgrad" translate --checkpoint "$ckpt" > "$tmp/plain" 2> "$tmp/err" ||
    fail "$model: translate"
  printf 'abc\nbcde\n' | "$seqgrad" translate --checkpoint "$ckpt" --show-attention "$tmp/$model.svg" \
    > "$tmp/shown" 2> "$tmp/shown.err" || fail "$model: translate --show-attention"
  cmp -s "$tmp/plain" "$tmp/shown" || fail "$model: --show-attention changed the translations"
  check_svg "$tmp/$model.svg" abc
  check_svg "$tmp/$model-2.svg" bcde
  [ "$(grep -c "^translate: the attention weights of line [12] are in $tmp/$model" "$tmp/shown.err")" -eq 2 ] ||
    fail "$model: a line on stderr per heatmap"
done
echo abc | "$seqgrad" translate --checkpoint "$tmp/transformer/last.safetensors" \
  --show-attention "$tmp/head.svg" --attention-layer 0 --attention-head 1 > /dev/null 2> "$tmp/err" ||
  fail "transformer: --attention-layer 0 --attention-head 1"
check_svg "$tmp/head.svg" abc
grep -q 'layer 0 (of 0-1), head 1 (of 0-1)' "$tmp/head.svg" || fail "the layer and head in the title"

expect_error() {  # expect_error "what" "expected text" model translate-options...
  local name="$1" expected="$2" model="$3"
  shift 3
  echo abc | "$seqgrad" translate --checkpoint "$tmp/$model/last.safetensors" "$@" \
    > /dev/null 2> "$tmp/err"
  local rc=$? lines
  lines=$(wc -l < "$tmp/err")
  if [ "$rc" -eq 0 ] || [ "$lines" -ne 1 ] || ! grep -q "^seqgrad: error: .*$expected" "$tmp/err"; then
    fail "$name (exit $rc, $lines stderr lines)"
  else
    echo "ok: $name: $(cat "$tmp/err")"
  fi
}
expect_error "cho" "--show-attention: the 'cho' model of .* has no attention over the source" \
  cho --show-attention "$tmp/x.svg"
expect_error "seq2seq" "--show-attention: the 'seq2seq' model of .* has no attention" \
  seq2seq --show-attention "$tmp/x.svg"
expect_error "layer of attention" "--attention-layer 1: the 'attention' model has 1 attention layer(s), numbered 0 to 0" \
  attention --show-attention "$tmp/x.svg" --attention-layer 1
expect_error "transformer layer" "--attention-layer 2: the 'transformer' model has 2 attention layer(s), numbered 0 to 1" \
  transformer --show-attention "$tmp/x.svg" --attention-layer 2
expect_error "negative layer" "--attention-layer -1: the 'transformer' model has 2" \
  transformer --show-attention "$tmp/x.svg" --attention-layer -1
expect_error "transformer head" "--attention-head 2: the 'transformer' model has 2 attention head(s), numbered 0 to 1" \
  transformer --show-attention "$tmp/x.svg" --attention-head 2
expect_error "not an integer" "--attention-head" \
  transformer --show-attention "$tmp/x.svg" --attention-head mean
expect_error "layer without the picture" "--attention-layer and --attention-head choose what --show-attention draws" \
  transformer --attention-layer 0
expect_error "beam" "--show-attention draws greedy decoding, not a beam search: drop --beam 3" \
  attention --show-attention "$tmp/x.svg" --beam 3
expect_error "unwritable file" "translate: cannot write $tmp/no/such/dir/x.svg" \
  attention --show-attention "$tmp/no/such/dir/x.svg"
[ ! -e "$tmp/x.svg" ] || fail "a refused command wrote its SVG"

[ "$failures" -eq 0 ] || exit 1
echo "attention: heatmaps per line for attention and transformer, layer/head choice, refusals"
