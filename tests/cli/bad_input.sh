#!/usr/bin/env bash
# Bad input to the `seqgrad` program: each case must exit non-zero and print exactly one line on
# stderr, "seqgrad: error: ..." containing the expected words. Usage: bad_input.sh path/to/seqgrad
set -u
seqgrad="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'ab\tba\ncd\tdc\n' > "$tmp/ok.tsv"
printf 'ab\tba\nno tab on this line\n' > "$tmp/bad.tsv"
: > "$tmp/empty.tsv"
printf 'not a safetensors file' > "$tmp/corrupt.safetensors"
failures=0

expect_error() {  # expect_error "what it shows" "expected text" args...
  local name="$1" expected="$2"
  shift 2
  "$seqgrad" "$@" > "$tmp/out" 2> "$tmp/err"
  local rc=$?
  local lines
  lines=$(wc -l < "$tmp/err")
  if [ "$rc" -eq 0 ] || [ "$lines" -ne 1 ] || ! grep -q "^seqgrad: error: .*$expected" "$tmp/err"; then
    echo "FAIL: $name (exit $rc, $lines stderr lines):"
    cat "$tmp/err"
    failures=$((failures + 1))
  else
    echo "ok: $name: $(cat "$tmp/err")"
  fi
}

expect_error "missing file" "cannot open" train --train "$tmp/nope.tsv" --dev "$tmp/ok.tsv" --out "$tmp/run"
expect_error "malformed TSV line" "bad.tsv:2: expected source<TAB>target" \
  train --train "$tmp/bad.tsv" --dev "$tmp/ok.tsv" --out "$tmp/run"
expect_error "empty data" "no source<TAB>target pairs" \
  train --train "$tmp/empty.tsv" --dev "$tmp/ok.tsv" --out "$tmp/run"
expect_error "corrupt checkpoint" "corrupt.safetensors" eval --checkpoint "$tmp/corrupt.safetensors" --task reverse
expect_error "missing checkpoint" "nope.safetensors" info --checkpoint "$tmp/nope.safetensors"
expect_error "unknown cell" "unknown cell 'lsmt'" \
  train --model seq2seq --cell lsmt --task reverse --steps 1 --out "$tmp/run"
expect_error "unknown model" "unknown --model 'transformer'" train --model transformer --out "$tmp/run"
expect_error "unknown task" "unknown task 'revers'" train --task revers --out "$tmp/run"
expect_error "absurd sizes" "sizes out of range" train --hidden 0 --out "$tmp/run"
expect_error "absurd batch" "--batch must be" train --batch 0 --out "$tmp/run"
expect_error "bad lengths" "--min-len" train --task copy --min-len 9 --max-len 3 --out "$tmp/run"

if [ "$failures" -ne 0 ]; then
  echo "$failures bad-input case(s) failed"
  exit 1
fi
