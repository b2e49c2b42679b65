#!/usr/bin/python3
"""Continues training a seqgrad model on several processes (or machines) with PyTorch's
DistributedDataParallel, and writes the result back as a seqgrad checkpoint, so that
`seqgrad eval`, `seqgrad translate` and `seqgrad info` read it as one of their own.

Run with torchrun (Debian: `apt-get install python3-torch`), here 2 processes on this machine:
    torchrun --nproc_per_node=2 --redirects 9:1 --tee 9:1 tools/ddp_train.py \\
        --checkpoint runs/latest/best.safetensors --data train.tsv --steps 1000 \\
        --out ddp.safetensors
    build/seqgrad eval --checkpoint ddp.safetensors --data test.tsv
`--redirects 9:1 --tee 9:1` is for Debian 12's torchrun (PyTorch 1.13 on Python 3.11), which
cannot parse its own defaults for them ("0") and stops with "AttributeError: 'NoneType' object
has no attribute 'get'"; "9:1" only concerns a local rank 9 (none here). On several machines, start
the same command on each with torchrun's --nnodes, --node_rank and --master_addr/--master_port:
the gloo backend runs over TCP, CPU only.

What it does (the models, the loading and the loss are tools/to_pytorch.py's: the PyTorch
reference models of cho, seq2seq with lstm/gru/rnn, and transformer):
  - every process loads the checkpoint into the reference model; DDP averages the gradients;
  - each step, every process takes the next --batch pairs of its own shard of the TSV
    (DistributedSampler: the pairs shuffled with --seed every pass over the file, each process a
    disjoint slice), batched as reference/cho.py's `batch`; one step thus learns from
    world_size x --batch pairs;
  - the loss of a step is the NLL summed over all processes' target tokens divided by their total
    (one all-reduce of the token count), exactly seqgrad train's per-token mean over one batch of
    that size, not a mean of per-process means;
  - Adam (--lr: default the checkpoint's training rate, else 1e-3) and gradient-norm clipping
    (--clip 5), as seqgrad train and the references. Adam starts afresh: the checkpoint holds no
    optimiser state;
  - dropout as the checkpoint's config says where the reference has it (transformer; seq2seq
    between layers); cho's dropout and the transformer's label smoothing are not reproduced
    (a warning says so);
  - process 0 writes --out atomically: the same tensor names and the checkpoint's metadata
    ("format", "model", "config", "src_vocab", "tgt_vocab", "options"), "step" advanced by --steps,
    plus "ddp", a JSON object of this run's settings.
Progress goes to stderr (process 0), one JSON line to stdout at the end.
"""
import argparse
import ctypes
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import to_pytorch  # noqa: E402  (the checkpoint reader, reference models, batching and loss)
from to_pytorch import Refused  # noqa: E402


def limit_threads(n):
    """Each process gets n threads. Debian's PyTorch multiplies matrices with OpenBLAS, which does
    not follow torch.set_num_threads: two processes on two cores would otherwise oversubscribe."""
    import torch
    torch.set_num_threads(n)
    try:
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(n)
    except (OSError, AttributeError):
        pass


def write_checkpoint(ref, path, tensors, metadata):
    """Written to a temporary file and renamed, as seqgrad does: a crash never leaves half a
    checkpoint where a good one was."""
    tmp = path + ".tmp"
    try:
        ref["cho"].save_safetensors(tmp, tensors, metadata)
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise Refused(f"--out {path}: cannot write the checkpoint ({e.strerror})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True, help="the seqgrad checkpoint to continue")
    ap.add_argument("--data", required=True, help="training TSV of source<TAB>target pairs")
    ap.add_argument("--steps", type=int, required=True, help="optimiser steps")
    ap.add_argument("--out", required=True, help="the seqgrad checkpoint to write")
    ap.add_argument("--batch", type=int, default=64, help="pairs per process and step")
    ap.add_argument("--lr", type=float, default=0.0,
                    help="Adam's rate (default: the checkpoint's, else 1e-3)")
    ap.add_argument("--clip", type=float, default=5.0, help="gradient-norm clip (0: none)")
    ap.add_argument("--seed", type=int, default=0, help="shuffling and dropout")
    ap.add_argument("--threads", type=int, default=1, help="threads per process")
    ap.add_argument("--log-every", type=int, default=0, help="a progress line every N steps")
    ap.add_argument("--reference", default=to_pytorch.DEFAULT_REFERENCE,
                    help="folder of the PyTorch reference models (default: %(default)s)")
    args = ap.parse_args()
    if args.steps < 1 or args.batch < 1 or args.threads < 1 or args.clip < 0:
        sys.exit(f"ddp_train: --steps, --batch and --threads must be positive and --clip >= 0, "
                 f"got {args.steps}, {args.batch}, {args.threads}, {args.clip}")
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        sys.exit("ddp_train: run it with torchrun (torchrun --nproc_per_node=2 "
                 "tools/ddp_train.py ...): RANK and WORLD_SIZE are not set")
    try:
        import torch
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel
        from torch.utils.data import DistributedSampler
    except ImportError:
        sys.exit("ddp_train: PyTorch is not installed for this Python (Debian: apt-get install "
                 "python3-torch, then run torchrun from /usr/bin)")

    # Every process checks its inputs before joining the group: a wrong file stops them all at
    # once (torchrun ends the others when one fails) instead of leaving some waiting for peers.
    try:
        meta, cfg, sv, tv = to_pytorch.describe(args.checkpoint)
        model = meta["model"]
        pairs = to_pytorch.read_pairs(args.data)
        ref = to_pytorch.import_reference(args.reference)
        net, not_reproduced = to_pytorch.build_model(ref, model, cfg, sv, tv, training=True)
        to_pytorch.load_weights(net, model, to_pytorch.read_tensors(args.checkpoint, ref),
                                args.checkpoint)
    except Refused as e:
        sys.exit(f"ddp_train: {e}")
    limit_threads(args.threads)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    say = (lambda msg: print(msg, file=sys.stderr, flush=True)) if rank == 0 else (lambda _: None)
    for what in not_reproduced:
        say(f"ddp_train: warning: trains without {what}")
    options = json.loads(meta.get("options", "{}"))
    lr = args.lr if args.lr > 0 else float(options.get("lr", 1e-3))

    torch.manual_seed(args.seed + rank)  # dropout masks differ between processes
    net.train()
    ddp = DistributedDataParallel(LossModule(net))
    opt = torch.optim.Adam(ddp.parameters(), lr=lr)
    sampler = DistributedSampler(range(len(pairs)), num_replicas=world, rank=rank, shuffle=True,
                                 seed=args.seed)

    def batches():
        """This process's batches, pass after pass over the file; every process gets the same
        number of them per pass (the sampler pads the shards to equal size), so no process waits
        on a gradient the others never send."""
        epoch = 0
        while True:
            sampler.set_epoch(epoch)
            mine = list(sampler)
            for i in range(0, len(mine), args.batch):
                yield [pairs[j] for j in mine[i:i + args.batch]]
            epoch += 1

    say(f"ddp_train: {model} from {args.checkpoint}, {world} processes x {args.batch} pairs per "
        f"step, {len(pairs)} training pairs, Adam lr {lr}, clip {args.clip}")
    t0, tokens_seen, last = time.perf_counter(), 0, float("nan")
    it = batches()
    for step in range(1, args.steps + 1):
        nll, ntok = ddp(*to_pytorch.make_batch(ref, next(it), sv, tv, cfg))
        total = torch.tensor([ntok, float(nll)], dtype=torch.float64)
        dist.all_reduce(total)
        last = float(total[1] / total[0])
        if not torch.isfinite(total[1]):  # as seqgrad train: no checkpoint of poisoned weights
            sys.exit(f"ddp_train: the loss is {last} at step {step}: stopped, nothing written")
        # DDP averages the gradients over the processes: scaled by world / all tokens, that
        # average is the gradient of the summed NLL over all tokens of the step, per token.
        loss = nll * (world / float(total[0]))
        opt.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(ddp.parameters(),
                                              args.clip if args.clip > 0 else float("inf"))
        if not torch.isfinite(norm):
            sys.exit(f"ddp_train: the gradient norm is {float(norm)} at step {step}: stopped, "
                     "nothing written")
        opt.step()
        tokens_seen += int(total[0])
        if args.log_every and step % args.log_every == 0:
            say(f"step {step} loss {last:.4f}")
    seconds = time.perf_counter() - t0

    if rank == 0:
        metadata = dict(meta)  # every key seqgrad wrote, whatever it is
        metadata["step"] = str(int(meta.get("step", "0")) + args.steps)
        metadata["ddp"] = json.dumps({"from": args.checkpoint, "data": args.data,
                                      "steps": args.steps, "world_size": world,
                                      "batch_per_process": args.batch, "lr": lr,
                                      "clip": args.clip, "seed": args.seed})
        try:
            write_checkpoint(ref, args.out, to_pytorch.seqgrad_names(net, model), metadata)
        except Refused as e:
            sys.exit(f"ddp_train: {e}")
        print(json.dumps({"model": model, "steps": args.steps, "world_size": world,
                          "train_loss": last, "seconds": round(seconds, 3),
                          "train_tokens_per_s": round(tokens_seen / seconds, 1),
                          "out": args.out}), flush=True)
    dist.barrier()  # no process leaves before the checkpoint is on disk
    dist.destroy_process_group()


def LossModule(net):
    """The reference models compute their loss in `loss`, not `forward`; DDP calls `forward` (and
    its gradient bookkeeping hangs on that call), so this wrapper makes the loss the forward."""
    import torch

    class Loss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, src, src_len, prev, gold):
            return self.net.loss(src, src_len, prev, gold)

    return Loss()


if __name__ == "__main__":
    main()
