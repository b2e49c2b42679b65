#!/usr/bin/env bash
# Installs the build into a temporary prefix, builds tests/install (a program of a user's own)
# against it with find_package(seqgrad), and runs it. Usage: run.sh BUILD_DIR
set -eu
build="$1"
here="$(cd "$(dirname "$0")" && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > /dev/null
[ -x "$tmp/prefix/bin/seqgrad" ] && [ -f "$tmp/prefix/include/seqgrad/train/trainer.h" ]
cmake -S "$here" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_BUILD_TYPE=Release > "$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/consumer" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
"$tmp/consumer/consumer" | tee "$tmp/out"
grep -q "^models: attention, cho, seq2seq, transformer$" "$tmp/out"
echo "install: a program built against the installed seqgrad with find_package ran"
