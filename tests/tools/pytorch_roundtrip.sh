#!/usr/bin/env bash
# The bridge to PyTorch (tools/to_pytorch.py, tools/ddp_train.py) against seqgrad itself: a tiny
# transformer trained by `seqgrad train` is loaded into the PyTorch reference model, whose loss on
# a TSV must equal `seqgrad eval`'s (two implementations, one number); two processes of
# DistributedDataParallel continue its training, and `seqgrad eval`, `info` and `translate` must
# read the result back, eval's loss again equal to PyTorch's. cho and seq2seq (2-layer LSTM, source
# reversed) checkpoints get the same export check; attention, a seq2seq cell PyTorch lacks, a
# training state and a non-checkpoint file are refused with one line.
# Skipped (status 77) without PyTorch for /usr/bin/python3 or without the reference models.
# Usage: pytorch_roundtrip.sh path/to/seqgrad
set -eu
seqgrad="$1"
root=$(cd "$(dirname "$0")/../.." && pwd)
py=/usr/bin/python3
if ! "$py" -c 'import torch' 2> /dev/null; then
  echo "SKIP: PyTorch is not installed for $py (apt-get install python3-torch)"
  exit 77
fi
# The scripts' default --reference, ../shared/reference from the repository's root.
if [ ! -f "$root/../shared/reference/transformer.py" ]; then
  echo "SKIP: no PyTorch reference models in $root/../shared/reference"
  exit 77
fi
if ! command -v torchrun > /dev/null; then
  echo "SKIP: no torchrun on the PATH (Debian's python3-torch installs /usr/bin/torchrun)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# Reversal pairs over the task's symbols, lengths 3-8; the test set also holds a symbol the
# vocabulary lacks ('!': <unk> on both sides) and a line ending in CR.
"$py" - << 'EOF'
import random
r = random.Random(7)
sym = "abcdefghijklmnopqrstuvwxyzABCDEF"
for name, n in (("train", 1000), ("test", 200)):
    with open(name + ".tsv", "w") as f:
        for _ in range(n):
            s = "".join(r.choice(sym) for _ in range(r.randint(3, 8)))
            f.write(f"{s}\t{s[::-1]}\n")
with open("test.tsv", "a") as f:
    f.write("ab!c\tc!ba\r\n")
EOF

loss_of() { sed -n 's/.*"loss": \([-0-9.e+]*\).*/\1/p' "$1"; }
tokens_of() { sed -n 's/.*"tokens": \([0-9]*\).*/\1/p' "$1"; }
same() {  # same WHAT A B: |A - B| <= 1e-4 |B| (eval prints 6 decimals: ~1e-6 on losses of ~3)
  "$py" -c 'import sys; a, b = float(sys.argv[2]), float(sys.argv[3])
sys.exit(0 if abs(a - b) <= 1e-4 * abs(b) else f"{sys.argv[1]}: {a} vs {b}")' "$@"
}
export_check() {  # export_check NAME CHECKPOINT: PyTorch's loss = seqgrad eval's loss on test.tsv
  "$seqgrad" eval --checkpoint "$2" --data test.tsv --threads 1 > "$1.eval.json" 2> /dev/null
  "$py" "$root/tools/to_pytorch.py" --checkpoint "$2" --data test.tsv --out "$1.pt" \
    > "$1.torch.json"
  same "$1: loss of seqgrad eval vs PyTorch" "$(loss_of "$1.eval.json")" \
    "$(loss_of "$1.torch.json")"
  [ "$(tokens_of "$1.eval.json")" = "$(tokens_of "$1.torch.json")" ] ||
    { echo "$1: target tokens of seqgrad eval vs PyTorch: $(cat "$1".*.json)"; exit 1; }
  [ -s "$1.pt" ] || { echo "$1: to_pytorch.py --out wrote no $1.pt"; exit 1; }
  echo "$1: seqgrad eval $(loss_of "$1.eval.json"), PyTorch $(loss_of "$1.torch.json")"
}
task=(--task reverse --min-len 3 --max-len 8 --batch 32 --threads 1 --quiet)

"$seqgrad" train --model transformer --d-model 32 --heads 2 --layers 1 --ffn 64 --steps 60 \
  --eval-every 60 "${task[@]}" --out tf > /dev/null
export_check transformer tf/last.safetensors
"$py" -c 'import sys, torch; d = torch.load(sys.argv[1])
sys.exit(0 if "core.encoder.layers.0.self_attn.in_proj_weight" in d else f"names: {list(d)[:4]}")' \
  transformer.pt

# Two processes. Debian 12's torchrun (PyTorch 1.13 on Python 3.11) cannot parse its own default
# --redirects/--tee ("0"); "9:1" redirects only a local rank 9, which does not exist here. Its
# agent looks at the workers every --monitor_interval seconds (by default 5: seconds idle at the
# end).
# A free port of its own, so that tests running at the same time do not meet.
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
torchrun --nproc_per_node=2 --redirects 9:1 --tee 9:1 --monitor_interval 0.5 \
  --master_addr=127.0.0.1 --master_port="$port" \
  "$root/tools/ddp_train.py" --checkpoint tf/last.safetensors --data train.tsv --steps 20 \
  --batch 32 --out ddp.safetensors > ddp.json 2> ddp.err ||
  { cat ddp.err; exit 1; }
grep -q '"world_size": 2,' ddp.json || { echo "ddp_train.py printed $(cat ddp.json)"; exit 1; }
export_check ddp ddp.safetensors
"$py" -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2])
sys.exit(0 if a < b else f"20 DDP steps did not lower the test loss: {a} after, {b} before")' \
  "$(loss_of ddp.torch.json)" "$(loss_of transformer.torch.json)"
"$seqgrad" info --checkpoint ddp.safetensors > info.txt
if ! grep -q '^model *transformer$' info.txt || ! grep -q '^step *80$' info.txt; then
  echo "seqgrad info on the DDP checkpoint (60 steps of seqgrad, 20 of DDP):"; cat info.txt; exit 1
fi
[ "$(printf 'abc\nhello\n' | "$seqgrad" translate --checkpoint ddp.safetensors | wc -l)" = 2 ] ||
  { echo "seqgrad translate did not answer both lines from the DDP checkpoint"; exit 1; }

"$seqgrad" train --model cho --emb 16 --hidden 32 --maxout 16 --steps 30 --eval-every 30 \
  "${task[@]}" --out cho > /dev/null
export_check cho cho/last.safetensors
"$seqgrad" train --model seq2seq --cell lstm --layers 2 --reverse-source --emb 16 --hidden 32 \
  --steps 30 --eval-every 30 "${task[@]}" --out lstm > /dev/null
export_check seq2seq lstm/last.safetensors

refused() {  # refused CHECKPOINT EXPECTED: one line on stderr, containing EXPECTED; status 1
  if "$py" "$root/tools/to_pytorch.py" --checkpoint "$1" --data test.tsv > out 2> err; then
    echo "to_pytorch.py accepted $1"; exit 1
  fi
  if [ "$(wc -l < err)" != 1 ] || ! grep -qF "$2" err; then
    echo "to_pytorch.py on $1 said:"; cat err; exit 1
  fi
}
tiny=(--emb 8 --hidden 8 --steps 1 --eval-every 1 "${task[@]}")
"$seqgrad" train --model attention "${tiny[@]}" --out att > /dev/null
"$seqgrad" train --model seq2seq --cell mgu --layers 1 "${tiny[@]}" --out mgu > /dev/null
refused att/last.safetensors \
  "model 'attention' has no PyTorch reference (known: cho, seq2seq, transformer)"
refused mgu/last.safetensors "seq2seq with the cell 'mgu' has no PyTorch reference"
refused att/last.state.safetensors "a training state"
refused test.tsv "test.tsv: not a seqgrad checkpoint"
echo "PyTorch bridge: losses agree, DDP output read back, refusals one line each"
