#!/usr/bin/env bash
# The default build on a CPU without AVX-512, for real rather than forced: QEMU's user-mode
# emulator presents an AMD EPYC Milan (Zen 3: AVX2 + FMA, no AVX-512), and any AVX-512 instruction
# the program runs is an illegal instruction there. The program must pick the avx2 kernels by
# itself, pass the tensor tests and train. Skipped (77) where qemu-user is not installed.
# Usage: avx2_only.sh SEQGRAD TENSOR_TESTS
set -euo pipefail
command -v qemu-x86_64 > /dev/null || {
  echo "SKIP: qemu-x86_64 not found (Debian package qemu-user)"
  exit 77
}
seqgrad=$1 tensor_tests=$2
export QEMU_CPU=EPYC-Milan
unset SEQGRAD_CPU
quiet() { grep -v "TCG doesn't support requested feature" || true; }

version=$(qemu-x86_64 "$seqgrad" --version 2>&1 | quiet)
echo "$version"
grep -q "^kernels: avx2 " <<< "$version" || {
  echo "FAIL: expected the avx2 kernels on an AVX2-only CPU"
  exit 1
}
grep -q "avx512" <<< "$version" && {
  echo "FAIL: the emulated CPU reports AVX-512"
  exit 1
}
qemu-x86_64 "$tensor_tests" 2>&1 | quiet | tail -3
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# cho runs the GEMM and GRU kernels; attention also the attention read, which has its own
# AVX-512 build (nn/attention_rows_avx512.cpp) that this CPU must never reach.
for model in cho attention; do
  qemu-x86_64 "$seqgrad" train --model $model --task reverse --min-len 3 --max-len 6 --emb 16 \
    --hidden 32 --steps 4 --eval-every 4 --batch 16 --out "$out/$model" 2>&1 | quiet | tail -1
  [ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
done
echo "OK: the default build runs on an emulated AVX2-only CPU"
