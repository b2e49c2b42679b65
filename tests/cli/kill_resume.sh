#!/usr/bin/env bash
# Crash safety: `seqgrad train` is killed with SIGKILL at random moments (during steps,
# evaluations and checkpoint writes alike) and resumed with --resume until it finishes; the final
# parameters must be byte-identical to an uninterrupted run, and every checkpoint left behind by a
# kill must load. Then SIGINT: the trainer saves, exits with 130, and resumes to the same result.
# Usage: kill_resume.sh path/to/seqgrad [rounds=20]
set -eu
seqgrad="$1"
rounds="${2:-20}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(--model cho --task reverse --min-len 2 --max-len 6 --emb 8 --hidden 16 --maxout 8
  --steps 200 --eval-every 20 --threads 1 --seed 5 --dropout 0.1 --bucket --schedule cosine)
start=$(date +%s%N)
"$seqgrad" train "${args[@]}" --out "$tmp/straight" > /dev/null 2>&1
# Kills land uniformly over the length of a whole run (in ms), so about half of them hit a run
# that has already saved, and every round ends after a few restarts however fast the machine is.
duration_ms=$((($(date +%s%N) - start) / 1000000 + 50))
RANDOM=42
kills=0
for round in $(seq 1 "$rounds"); do
  run="$tmp/run$round"
  while :; do
    resume=()
    [ -f "$run/last.state.safetensors" ] && resume=(--resume)
    "$seqgrad" train "${args[@]}" --out "$run" "${resume[@]}" > "$tmp/log" 2>&1 &
    pid=$!
    delay_ms=$(((RANDOM * 32768 + RANDOM) % duration_ms + 10))
    sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
    if kill -KILL "$pid" 2> /dev/null; then
      wait "$pid" 2> /dev/null || true
      kills=$((kills + 1))
      # Whatever the moment of the kill, the checkpoints on disk are whole (the training
      # state is read by the next --resume, which fails the test if it cannot).
      for f in "$run"/last.safetensors "$run"/best.safetensors; do
        if [ -f "$f" ] && ! "$seqgrad" info --checkpoint "$f" > /dev/null 2>&1; then
          echo "round $round: $f unreadable after a kill"
          exit 1
        fi
      done
      # The parameters are never behind the state that --resume will start from: a resumed run
      # that starts at the last step rewrites nothing, so last.safetensors must already be there.
      if [ -f "$run/last.state.safetensors" ]; then
        state_step=$("$seqgrad" info --checkpoint "$run/last.state.safetensors" |
          awk '$1 == "step" { print $2 }')
        if [ -z "$state_step" ]; then
          echo "round $round: seqgrad info cannot read the training state after a kill"
          exit 1
        fi
        last_step=$("$seqgrad" info --checkpoint "$run/last.safetensors" 2> /dev/null |
          awk '$1 == "step" { print $2 }')
        if [ -z "$last_step" ] || [ "$last_step" -lt "$state_step" ]; then
          echo "round $round: state at step $state_step but last.safetensors at '${last_step}'"
          exit 1
        fi
      fi
    else
      if ! wait "$pid"; then
        echo "round $round: the trainer failed:"
        cat "$tmp/log"
        exit 1
      fi
      break
    fi
  done
  if ! cmp -s "$tmp/straight/last.safetensors" "$run/last.safetensors"; then
    echo "round $round: parameters differ from the uninterrupted run"
    exit 1
  fi
  rm -rf "$run"
done
echo "kill and resume: $rounds rounds, $kills kills, identical parameters every time"

# SIGINT: saves and exits with 130; --resume then finishes with the same parameters.
"$seqgrad" train "${args[@]}" --out "$tmp/int" > "$tmp/log" 2>&1 &
pid=$!
sleep "$((duration_ms / 2000)).$(printf '%03d' $((duration_ms / 2 % 1000)))"
kill -INT "$pid" 2> /dev/null || true  # it may have finished already
status=0
wait "$pid" || status=$?
if [ "$status" -ne 130 ] && [ "$status" -ne 0 ]; then
  echo "SIGINT: exit status $status, expected 130 (or 0 if it had already finished)"
  cat "$tmp/log"
  exit 1
fi
if [ "$status" -eq 130 ]; then
  grep -q "interrupted at step" "$tmp/log"
  "$seqgrad" train "${args[@]}" --out "$tmp/int" --resume > /dev/null 2>&1
fi
cmp "$tmp/straight/last.safetensors" "$tmp/int/last.safetensors"
echo "SIGINT: saved, exited with $status, resumed to identical parameters"
