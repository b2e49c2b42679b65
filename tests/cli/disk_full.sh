#!/usr/bin/env bash
# A checkpoint write that fails for lack of space (the temporary file is made a link to /dev/full,
# whose writes fail with ENOSPC) stops training with one line saying what is still on disk; the
# previous checkpoint and state are untouched, and once there is room the run resumes to the same
# parameters as a run that never failed. Usage: disk_full.sh path/to/seqgrad
set -eu
seqgrad="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -w /dev/full ] || { echo "skipped: this machine has no /dev/full"; exit 0; }
args=(--task reverse --min-len 2 --max-len 5 --emb 8 --hidden 16 --maxout 8 --eval-every 10
  --threads 1 --seed 2 --quiet)
"$seqgrad" train "${args[@]}" --steps 30 --out "$tmp/straight" > /dev/null
"$seqgrad" train "${args[@]}" --steps 10 --out "$tmp/run" > /dev/null
cp "$tmp/run/last.safetensors" "$tmp/last.before"
cp "$tmp/run/last.state.safetensors" "$tmp/state.before"
ln -s /dev/full "$tmp/run/last.safetensors.tmp"
if "$seqgrad" train "${args[@]}" --steps 30 --out "$tmp/run" --resume > /dev/null 2> "$tmp/err"; then
  echo "training went on although its checkpoint could not be written"
  exit 1
fi
[ "$(wc -l < "$tmp/err")" -eq 1 ] || { echo "expected one line:"; cat "$tmp/err"; exit 1; }
grep -q "^seqgrad: error: train: step 20: could not save (.*No space left on device.*); .*/run still holds the run as saved at step 10" "$tmp/err" ||
  { echo "unexpected message:"; cat "$tmp/err"; exit 1; }
cmp "$tmp/run/last.safetensors" "$tmp/last.before"
cmp "$tmp/run/last.state.safetensors" "$tmp/state.before"
[ ! -e "$tmp/run/last.safetensors.tmp" ]  # the failed temporary file is gone
"$seqgrad" train "${args[@]}" --steps 30 --out "$tmp/run" --resume > /dev/null
cmp "$tmp/straight/last.safetensors" "$tmp/run/last.safetensors"
echo "disk full: clear error, previous checkpoint intact, resumed to identical parameters"
