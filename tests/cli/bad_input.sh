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
printf 'a\xff\xfeb\tc\x80d\n' > "$tmp/latin.tsv"
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

expect_error "missing file" "File does not exist" train --train "$tmp/nope.tsv" --dev "$tmp/ok.tsv" --out "$tmp/run"
expect_error "malformed TSV line" "bad.tsv:2: expected source<TAB>target" \
  train --train "$tmp/bad.tsv" --dev "$tmp/ok.tsv" --out "$tmp/run"
expect_error "invalid UTF-8" "latin.tsv:1: not valid UTF-8 (byte 0xff at column 2)" \
  train --train "$tmp/latin.tsv" --dev "$tmp/ok.tsv" --out "$tmp/run"
expect_error "empty data" "no source<TAB>target pairs" \
  train --train "$tmp/empty.tsv" --dev "$tmp/ok.tsv" --out "$tmp/run"
expect_error "corrupt checkpoint" "corrupt.safetensors" eval --checkpoint "$tmp/corrupt.safetensors" --task reverse
expect_error "missing checkpoint" "nope.safetensors" info --checkpoint "$tmp/nope.safetensors"
expect_error "unknown cell" "unknown cell 'lsmt'" \
  train --model seq2seq --cell lsmt --task reverse --steps 1 --out "$tmp/run"
expect_error "unknown model" "no-such-model not in {attention,cho,seq2seq,transformer}" train --model no-such-model --out "$tmp/run"
expect_error "unknown task" "unknown task 'revers'" train --task revers --out "$tmp/run"
expect_error "absurd sizes" "'hidden' = 0 is out of range \[1, 65536\]" train --hidden 0 --out "$tmp/run"
expect_error "absurd batch" "--batch: Value 0 not in range 1 to 100000" train --batch 0 --out "$tmp/run"
expect_error "bad lengths" "--min-len" train --task copy --min-len 9 --max-len 3 --out "$tmp/run"
expect_error "resume without a run" "last.state.safetensors" train --resume --out "$tmp/none"
expect_error "bad --nonfinite" "--nonfinite: ignore not in {stop,skip}" train --nonfinite ignore --out "$tmp/run"
expect_error "bad --schedule" "--schedule: linear not in {constant,cosine,noam}" train --schedule linear --out "$tmp/run"
expect_error "bad dropout" "'dropout' = 1.5 is out of range" train --dropout 1.5 --out "$tmp/run"
head -c 200 "$(dirname "$0")/../fixtures/cho/reference.safetensors" > "$tmp/truncated.safetensors"
expect_error "truncated checkpoint" "truncated.safetensors" eval --checkpoint "$tmp/truncated.safetensors" --task reverse
expect_error "missing image data" "not found in" classify --data-dir "$tmp/none"
expect_error "--dev with a task" "--dev goes with --train" \
  train --task reverse --dev "$tmp/ok.tsv" --out "$tmp/run"
expect_error "an option of another model" "--maxout does not apply to --model seq2seq" \
  train --model seq2seq --maxout 64 --out "$tmp/run"
expect_error "not an integer" "--hidden: expected an integer, got '12x'" train --hidden 12x --out "$tmp/run"
expect_error "cnn kernel 0" "'kernel' = 0 is out of range \[1, 1023\]" \
  train --model seq2seq --encoder cnn --kernel 0 --out "$tmp/run"
expect_error "even cnn kernel" "the kernel size must be odd and positive .*got 4" \
  train --model attention --encoder cnn --kernel 4 --out "$tmp/run"
expect_error "no cnn layers" "'conv_layers' = 0 is out of range \[1, 1024\]" \
  train --model attention --encoder cnn --conv-layers 0 --out "$tmp/run"
expect_error "unknown encoder" "--encoder must be rnn or cnn, got 'conv'" \
  train --model seq2seq --encoder conv --out "$tmp/run"
expect_error "heads not dividing d_model" "heads (4) must divide d_model (10)" \
  train --model transformer --d-model 10 --heads 4 --out "$tmp/run"
expect_error "no transformer layers" "'layers' = 0 is out of range \[1, 1024\]" \
  train --model transformer --layers 0 --out "$tmp/run"
# Sequences longer than the position table are refused before the run starts (no info line).
printf 'abcdefgh\tx\nab\tba\n' > "$tmp/long_source.tsv"
expect_error "source longer than the position table" \
  "training pair 1 ('abcdefgh') has a source of 8 tokens, longer than the transformer model's position table allows (5; raise --max-positions)" \
  train --model transformer --max-positions 6 --train "$tmp/long_source.tsv" --dev "$tmp/ok.tsv" --out "$tmp/run"
printf 'ab\tabcdefgh\n' > "$tmp/long_target.tsv"
expect_error "target longer than the position table" "dev pair 1 ('ab') has a target of 8 tokens" \
  train --model transformer --max-positions 6 --train "$tmp/ok.tsv" --dev "$tmp/long_target.tsv" --out "$tmp/run"
expect_error "task longer than the cnn encoder's positions" "--max-len 20 makes sources longer than the attention model's position table allows (15;" \
  train --model attention --encoder cnn --max-positions 16 --task reverse --out "$tmp/run"

# A folder that holds a run is never trained over, and a resumed run keeps its options.
tiny=(--task reverse --min-len 2 --max-len 4 --emb 8 --hidden 8 --maxout 4 --steps 2
  --eval-every 2 --threads 1)
"$seqgrad" train "${tiny[@]}" --out "$tmp/done" > /dev/null 2>&1
expect_error "a run folder again" "already holds a run: continue it with --resume" \
  train "${tiny[@]}" --out "$tmp/done"
expect_error "warm-up as long as the cosine run" "--warmup 2 leaves no steps for the cosine decay" \
  train "${tiny[@]}" --schedule cosine --warmup 2 --out "$tmp/warm"
expect_error "resume with another --lr" "lr was 0.001, now 0.01" \
  train "${tiny[@]}" --lr 0.01 --out "$tmp/done" --resume
expect_error "lengths for a task without them" "--min-len/--max-len set the source lengths" \
  train --task dates --max-len 9 --out "$tmp/run"
expect_error "a task and a file" "--task excludes --train" \
  train --task reverse --train "$tmp/ok.tsv" --dev "$tmp/ok.tsv" --out "$tmp/run"
expect_error "eval on another task" "was trained on 'reverse', not on the task 'dates'" \
  eval --checkpoint "$tmp/done/best.safetensors" --task dates
printf '\xe6\xbc\xa2\xe5\xad\x97\tx\n' > "$tmp/foreign.tsv"
expect_error "eval on data of another vocabulary" "none of the 2 source tokens of .*foreign.tsv" \
  eval --checkpoint "$tmp/done/best.safetensors" --data "$tmp/foreign.tsv"

# A run that diverges stops at the first non-finite loss, with an error as its last line, and
# writes no checkpoint after it (here: none at all, the first evaluation was never reached).
small=(--task reverse --min-len 2 --max-len 4 --emb 8 --hidden 8 --maxout 4 --steps 300
  --eval-every 300 --threads 1)
"$seqgrad" train "${small[@]}" --lr 1e12 --clip 0 --out "$tmp/nan" > /dev/null 2> "$tmp/err"
rc=$?
if [ "$rc" -eq 0 ] || ! tail -1 "$tmp/err" | grep -q "^seqgrad: error: train: step [0-9]*: non-finite" ||
  [ -e "$tmp/nan/last.safetensors" ]; then
  echo "FAIL: divergence (exit $rc):"
  tail -3 "$tmp/err"
  failures=$((failures + 1))
else
  echo "ok: divergence: $(tail -1 "$tmp/err")"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures bad-input case(s) failed"
  exit 1
fi
