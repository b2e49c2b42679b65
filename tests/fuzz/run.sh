#!/usr/bin/env bash
# Fuzzes every parser of outside input with libFuzzer (clang, ASan + UBSan): checkpoints, TSV
# pairs, IDX files, the CMU dictionary. Builds the targets in build-fuzz/, seeds each corpus from
# the test fixtures and small hand-made files, and runs each target for SECONDS (default 60).
# A crash, a sanitizer report or a leak stops the target and fails this script; its input is left
# in build-fuzz/crashes/TARGET/. Commit such an input under tests/fuzz/regressions/TARGET/: the
# regular test suite replays every file there (tests/models/fuzz_regressions_test.cpp).
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(checkpoint tsv idx cmudict)
scripts/deps
if ! command -v clang++ > /dev/null; then
  echo "Installing clang (libFuzzer)"
  apt-get install -y -qq clang > /dev/null
fi
# Warnings are the regular (GCC) build's business; clang's differ (e.g. GCC-only pragmas).
CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEQGRAD_FUZZ=ON \
  -DSEQGRAD_BENCH=OFF -DSEQGRAD_NATIVE=OFF -DSEQGRAD_WERROR=OFF > /dev/null
cmake --build build-fuzz -j"$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}") > build-fuzz/build.log 2>&1 ||
  { cat build-fuzz/build.log; exit 1; }

# Seed corpora.
corpus=build-fuzz/corpus
rm -rf "$corpus"
mkdir -p "$corpus"/{checkpoint,tsv,idx,cmudict}
cp tests/fixtures/cho/*.safetensors tests/fixtures/seq2seq/*.safetensors "$corpus/checkpoint/"
cp tests/fixtures/cho/pairs.tsv "$corpus/tsv/"
printf 'héllo\tHH AH L OW\r\nab\tba\n\nx\ty\tz\n' > "$corpus/tsv/mixed.tsv"
printf '\0\0\x08\x01\0\0\0\x03abc' > "$corpus/idx/labels.idx"
printf '\0\0\x08\x03\0\0\0\x01\0\0\0\x02\0\0\0\x02\x01\x02\x03\x04' > "$corpus/idx/images.idx"
dict=/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict
if [ -f "$dict" ]; then head -300 "$dict" > "$corpus/cmudict/head.dict"; fi
printf 'hello HH AH0 L OW1\nhello(2) HH EH0 L OW1\nabc EY1 B IY1 S IY1\n' > "$corpus/cmudict/small.dict"
for t in "${targets[@]}"; do
  [ -d "tests/fuzz/regressions/$t" ] && cp tests/fuzz/regressions/"$t"/* "$corpus/$t/" 2>/dev/null || true
done

status=0
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/crashes/$t"
  echo "fuzz_$t: ${seconds}s"
  if ! build-fuzz/tests/fuzz/fuzz_"$t" "$corpus/$t" -max_total_time="$seconds" -max_len=65536 \
    -rss_limit_mb=4096 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/crashes/$t/" > "build-fuzz/fuzz_$t.log" 2>&1; then
    echo "fuzz_$t FAILED: see build-fuzz/fuzz_$t.log and build-fuzz/crashes/$t/"
    grep -E "ERROR|SUMMARY|Test unit written" "build-fuzz/fuzz_$t.log" | head -5
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "build-fuzz/fuzz_$t.log" |
      tr '\n' ' ' | sed 's/^/  /'
    echo
  fi
done
exit $status
