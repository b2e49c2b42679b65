#!/usr/bin/python3
"""The PyTorch side of bench/models_bench.cpp: training or greedy-decoding throughput of one
encoder-decoder (cho, seq2seq or attention) on the `reverse` task, so the two can be run back to
back with the same options and compared line by line.

    /usr/bin/python3 bench/torch_models.py --model cho|seq2seq|attention --mode train|decode
        [--emb 64] [--hidden 128] [--maxout 0] [--layers 2] [--attention 0] [--batch 64]
        [--threads 1] [--steps 30] [--warmup 3] [--min-len 5] [--max-len 20] [--seed 0]

Prints one JSON line: framework, model, mode, hidden, threads, steps, seconds, tokens_per_s,
sequences_per_s.

How it matches seqgrad's side:
  data      the reference's reversal task (../shared/reference/cho.py: reversal_pairs, its 32-symbol
            vocabulary and specials, batch() for padding); source + EOS, the decoder reads BOS +
            target and predicts target + EOS. All warmup + steps batches are built before the
            clock starts, as bench_models does (cho.py --bench builds them inside its timed loop).
  models    cho and seq2seq (LSTM) are the reference modules themselves (cho.Cho,
            seq2seq.Seq2Seq), whose outputs seqgrad's tests check its models against. attention
            has no reference; AttentionModel below is models/attention.{h,cpp} op for op.
  train     per step: summed NLL / target tokens, zero_grad, backward, clip_grad_norm_ 5, Adam lr
            1e-3, i.e. what `seqgrad train` and bench_models do per step.
  decode    greedy from fresh parameters for exactly (longest source + EOS) + 2 steps, no early
            stop at EOS, eval mode, no autograd. Each step returns log-softmax
            like seqgrad's decode_step (argmax is the same either way, but the work should be).
  threads   N OpenBLAS threads + 1 ATen thread, PyTorch's fastest setting for these recurrent
            models on this machine (see torch_threads.py).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "reference"))
import cho  # noqa: E402
import seq2seq  # noqa: E402
from torch_threads import set_threads  # noqa: E402

SYMBOLS = "abcdefghijklmnopqrstuvwxyzABCDEF"  # cho.reversal_pairs' alphabet


class AttentionModel(nn.Module):
    """Bahdanau, Cho and Bengio (2015) exactly as seqgrad's models/attention.cpp computes it:

    encoder   bidirectional GRU over the embedded source (+ EOS), packed by real length, so the
              backward direction starts at each sequence's own last token; h_j = [fwd_j; bwd_j]
    start     s_0 = tanh(init(bwd final state)), the backward state that has read the whole source
    attention e_tj = attn_v(tanh(attn_key(h_j) + attn_query(s_{t-1}))), -1e9 at padding,
              alpha_t = softmax_j(e_t), c_t = sum_j alpha_tj h_j
    decoder   s_t = GRUCell([e(y_{t-1}); c_t], s_{t-1})  (PyTorch's GRUCell = seqgrad's reset=After)
    output    logits = output([s_t; c_t; e(y_{t-1})])
    Parameter names and shapes are seqgrad's; dropout is 0 there by default and left out here.
    """

    def __init__(self, Vs, Vt, E, H, A):
        super().__init__()
        self.src_embed = nn.Embedding(Vs, E)
        self.tgt_embed = nn.Embedding(Vt, E)
        self.encoder = nn.GRU(E, H, batch_first=True, bidirectional=True)
        self.init = nn.Linear(H, H)
        self.attn_query = nn.Linear(H, A, bias=False)
        self.attn_key = nn.Linear(2 * H, A, bias=True)
        self.attn_v = nn.Linear(A, 1, bias=False)
        self.decoder = nn.GRUCell(E + 2 * H, H)
        self.output = nn.Linear(3 * H + E, Vt)

    def encode(self, src, src_len):
        """Returns (annotations [B, S, 2H], keys [B, S, A], mask [B, S], s_0 [B, H])."""
        S = src.shape[1]
        packed = pack_padded_sequence(self.src_embed(src), src_len, batch_first=True,
                                      enforce_sorted=False)
        out, h_n = self.encoder(packed)
        # total_length keeps S columns so the mask lines up; padded rows are zero, as in seqgrad.
        annotations, _ = pad_packed_sequence(out, batch_first=True, total_length=S)
        keys = self.attn_key(annotations)  # U_k h_j once per source, not per step
        mask = torch.zeros(src.shape, dtype=annotations.dtype)
        mask.masked_fill_(torch.arange(S).unsqueeze(0) >= src_len.unsqueeze(1), -1e9)
        s0 = torch.tanh(self.init(h_n[1]))  # h_n[1]: the backward direction's final state
        return annotations, keys, mask, s0

    def step(self, memory, s, e):
        """One decoder step from state s and previous-token embedding e: (s_t, logits)."""
        annotations, keys, mask, _ = memory
        scores = self.attn_v(torch.tanh(keys + self.attn_query(s).unsqueeze(1))).squeeze(2)
        alpha = torch.softmax(scores + mask, dim=1)
        context = torch.bmm(alpha.unsqueeze(1), annotations).squeeze(1)
        s = self.decoder(torch.cat([e, context], dim=1), s)
        return s, self.output(torch.cat([s, context, e], dim=1))

    def loss(self, src, src_len, prev, gold):
        memory = self.encode(src, src_len)
        s, e_all, logits = memory[3], self.tgt_embed(prev), []
        for t in range(prev.shape[1]):
            s, lg = self.step(memory, s, e_all[:, t])
            logits.append(lg)
        # seqgrad computes the output layer at every position too, then gathers the real ones:
        # the same sum as ignore_index.
        logits = torch.stack(logits, dim=1)
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), gold.reshape(-1),
                              ignore_index=cho.PAD, reduction="sum")
        return nll, int((gold != cho.PAD).sum())


# Step-by-step decoding, one (start, step) pair per model like seqgrad's start_decoding /
# decode_step: start(model, src, src_len) -> state; step(model, state, y) -> (log-probs, state).

def cho_start(model, src, src_len):
    # cho.Cho.greedy's set-up; greedy itself always runs max_len steps and has no per-step hook,
    # so its loop body is repeated in cho_step to allow the common EOS stop.
    c = model.encode(src, src_len)
    return c, torch.tanh(model.init(c)), F.linear(c, model.decoder.weight_ch)


def cho_step(model, state, y):
    c, s, cproj = state
    e = model.tgt_embed(y)
    s = model.decoder.step(e, s, cproj)
    tt = model.readout(torch.cat([s, e, c], dim=1))
    m = tt.view(tt.shape[0], model.M, 2).max(dim=2).values
    return F.log_softmax(model.output(m), dim=1), (c, s, cproj)


def seq2seq_start(model, src, src_len):
    # The encoder exactly as Seq2Seq.loss runs it (reverse_source is off here).
    packed = pack_padded_sequence(model.src_embed(src), src_len, batch_first=True,
                                  enforce_sorted=False)
    return model.encoder(packed)[1]


def seq2seq_step(model, state, y):
    # One time step through all layers of the decoder's nn.LSTM, (h, c) of every layer carried.
    out, state = model.decoder(model.tgt_embed(y).unsqueeze(1), state)
    return F.log_softmax(model.output(out[:, 0]), dim=1), state


def attention_start(model, src, src_len):
    memory = model.encode(src, src_len)
    return memory, memory[3]


def attention_step(model, state, y):
    memory, s = state
    s, logits = model.step(memory, s, model.tgt_embed(y))
    return F.log_softmax(logits, dim=1), (memory, s)


DECODERS = {"cho": (cho_start, cho_step), "seq2seq": (seq2seq_start, seq2seq_step),
            "attention": (attention_start, attention_step)}


def greedy_fixed_length(model, start, step, src, src_len, steps):
    """Greedy decoding from BOS for exactly `steps` steps, with no early stop at EOS: fresh
    parameters emit EOS at arbitrary points, and a stop that depends on them would make the work
    differ between the frameworks. bench_models decodes the same way."""
    state = start(model, src, src_len)
    y = torch.full((src.shape[0],), cho.BOS, dtype=torch.long)
    for _ in range(steps):
        logp, state = step(model, state, y)
        y = logp.argmax(dim=1)


def make_model(args, V):
    if args.model == "cho":
        return cho.Cho(V, V, args.emb, args.hidden, args.maxout or args.hidden // 2)
    if args.model == "seq2seq":
        return seq2seq.Seq2Seq(V, V, "lstm", args.emb, args.hidden, args.layers,
                               reverse_source=False)
    return AttentionModel(V, V, args.emb, args.hidden, args.attention or args.hidden)


def train(model, batches, warmup):
    """Seconds and target tokens of the steps after the first `warmup` (the step of cho.py's
    bench(): loss / tokens, backward, clip 5, Adam)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    tokens, start = 0, time.perf_counter()
    for i, b in enumerate(batches):
        if i == warmup:
            start = time.perf_counter()
        nll, ntok = model.loss(*b)
        opt.zero_grad()
        (nll / ntok).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if i >= warmup:
            tokens += ntok
    return time.perf_counter() - start, tokens


def decode(model, name, batches, warmup):
    """Seconds and decoded tokens (steps x batch) of the batches after the first `warmup`."""
    start_fn, step_fn = DECODERS[name]
    model.eval()
    tokens, start = 0, time.perf_counter()
    with torch.no_grad():
        for i, (src, src_len, _, _) in enumerate(batches):
            if i == warmup:
                start = time.perf_counter()
            # src's width is the longest source + EOS; + 2 as in bench_models.
            steps = src.shape[1] + 2
            greedy_fixed_length(model, start_fn, step_fn, src, src_len, steps)
            if i >= warmup:
                tokens += steps * src.shape[0]
    return time.perf_counter() - start, tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=["cho", "seq2seq", "attention"], default="cho")
    ap.add_argument("--mode", choices=["train", "decode"], default="train")
    ap.add_argument("--emb", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--maxout", type=int, default=0, help="cho (0: hidden / 2)")
    ap.add_argument("--layers", type=int, default=2, help="seq2seq")
    ap.add_argument("--attention", type=int, default=0, help="attention (0: = hidden)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30, help="timed steps (batches)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--min-len", type=int, default=5)
    ap.add_argument("--max-len", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.steps < 1 or args.warmup < 0:
        ap.error("need --steps >= 1 and --warmup >= 0")

    set_threads(args.threads, 1)
    torch.manual_seed(args.seed)  # parameters, as cho.py seeds them
    vocab = cho.build_vocab(SYMBOLS)
    model = make_model(args, len(vocab))
    rng = np.random.default_rng(args.seed)  # data, drawn the way cho.py's bench() draws it
    batches = [cho.batch(cho.reversal_pairs(rng, args.batch, args.min_len, args.max_len),
                         vocab, vocab) for _ in range(args.warmup + args.steps)]

    if args.mode == "train":
        seconds, tokens = train(model, batches, args.warmup)
    else:
        seconds, tokens = decode(model, args.model, batches, args.warmup)
    print(json.dumps({"framework": "pytorch", "model": args.model, "mode": args.mode,
                      "hidden": args.hidden, "threads": args.threads, "steps": args.steps,
                      "seconds": round(seconds, 4), "tokens_per_s": round(tokens / seconds, 1),
                      "sequences_per_s": round(args.batch * args.steps / seconds, 1)}))


if __name__ == "__main__":
    main()
