#!/usr/bin/python3
"""Loads a seqgrad checkpoint into the PyTorch reference model of its kind and prints, as one JSON
line, the teacher-forced loss of the loaded model on a TSV file: the same number `seqgrad eval`
reports as "loss" (mean negative log-likelihood per target token, EOS included, padding excluded),
so a user can check the model moved intact. Optionally saves the model as a plain PyTorch
state_dict.

Run with Debian's Python (`apt-get install python3-torch` for PyTorch):
    /usr/bin/python3 tools/to_pytorch.py --checkpoint runs/latest/best.safetensors --data test.tsv
    /usr/bin/python3 tools/to_pytorch.py --checkpoint m.safetensors --data test.tsv --out model.pt
        [--reference DIR]   the folder of cho.py, seq2seq.py and transformer.py
                            (default: ../shared/reference from the repository's root)

Models with a reference: cho (reference/cho.py, class Cho), seq2seq with an lstm, gru or rnn cell
and its recurrent encoder (reference/seq2seq.py, class Seq2Seq) and transformer
(reference/transformer.py, class Transformer). Any other model (attention, a plugin's, seq2seq
with another cell or the cnn encoder) is refused with one line.

--out writes `model.state_dict()` of that reference class, so that
    model = transformer.Transformer(len(src_vocab), len(tgt_vocab), D, H, L, F, norm_first)
    model.load_state_dict(torch.load("model.pt"))
restores it (the Transformer's names carry its "core." prefix there; the checkpoint's own names
are those of the reference's --export). The vocabularies and config are the checkpoint's metadata:
`tools/read_safetensors.py m.safetensors` lists them.

tools/ddp_train.py imports this file for the loading, the batching and the loss.
"""
import argparse
import importlib
import json
import os
import struct
import sys
import warnings

FORMAT = "seqgrad-checkpoint"
KNOWN = ("cho", "seq2seq", "transformer")
SEQ2SEQ_CELLS = ("gru", "lstm", "rnn")  # the cells reference/seq2seq.py builds with PyTorch's own
MAX_HEADER = 100_000_000  # seqgrad's own limit on a safetensors header
CHUNK = 250  # pairs per batch when scoring, as seqgrad eval (models/evaluate.cpp)

# The reference scripts live outside this repository, beside it (the project's shared folder),
# and are the executable specification the C++ models are checked against: importing them, not
# copying them, means the exported model is by construction the specified one.
DEFAULT_REFERENCE = os.path.normpath(os.path.join(os.path.dirname(os.path.realpath(__file__)),
                                                  "..", "..", "shared", "reference"))


class Refused(Exception):
    """A problem with the user's input: reported as one line, no traceback."""


def import_reference(folder):
    """The reference modules {name: module}; torch is imported here, not at the top, so that a
    missing PyTorch is reported in one line by the caller."""
    folder = os.path.abspath(folder)
    for name in ("cho.py", "seq2seq.py", "transformer.py"):
        if not os.path.isfile(os.path.join(folder, name)):
            raise Refused(f"--reference {folder}: no {name} there (the folder of the PyTorch "
                          "reference models cho.py, seq2seq.py, transformer.py)")
    sys.path.insert(0, folder)
    warnings.filterwarnings("ignore", message=".*nested tensors.*")  # PyTorch 1.13's eval path
    return {name: importlib.import_module(name) for name in KNOWN}


def read_metadata(path):
    """The checkpoint's metadata, after checking it is a safetensors file written for seqgrad's
    encoder-decoders; anything else is Refused with the reason."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise Refused(f"{path}: not a seqgrad checkpoint (only {len(head)} bytes)")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER:
                raise Refused(f"{path}: not a seqgrad checkpoint (not a safetensors file: a "
                              f"header of {n} bytes)")
            raw = f.read(n)
    except OSError as e:
        raise Refused(f"{path}: cannot read the file ({e.strerror})")
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Refused(f"{path}: not a seqgrad checkpoint (not a safetensors file: no JSON header)")
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    fmt = meta.get("format") if isinstance(meta, dict) else None
    if fmt == "seqgrad-training-state":
        raise Refused(f"{path}: a training state (for seqgrad train --resume), not a model "
                      "checkpoint: give the run's best.safetensors or last.safetensors")
    if fmt != FORMAT:
        raise Refused(f"{path}: not a seqgrad checkpoint (metadata format {fmt!r}, expected "
                      f"{FORMAT!r})")
    for key in ("model", "config", "src_vocab", "tgt_vocab"):
        if key not in meta:
            raise Refused(f"{path}: checkpoint metadata has no {key!r} entry")
    return meta


def describe(path):
    """(metadata, config, src_vocab, tgt_vocab) of a checkpoint whose model has a reference;
    anything else is Refused. Needs no PyTorch, so a wrong file is refused at once."""
    meta = read_metadata(path)
    model = meta["model"]
    if model not in KNOWN:
        raise Refused(f"{path}: model {model!r} has no PyTorch reference (known: "
                      f"{', '.join(KNOWN)})")
    try:
        cfg = json.loads(meta["config"])
        sv, tv = json.loads(meta["src_vocab"]), json.loads(meta["tgt_vocab"])
    except json.JSONDecodeError as e:
        raise Refused(f"{path}: checkpoint metadata is not valid JSON ({e})")
    if model == "seq2seq" and cfg.get("cell") not in SEQ2SEQ_CELLS:
        raise Refused(f"{path}: seq2seq with the cell {cfg.get('cell')!r} has no PyTorch reference "
                      f"(known cells: {', '.join(SEQ2SEQ_CELLS)})")
    if model == "seq2seq" and cfg.get("encoder", "rnn") != "rnn":
        raise Refused(f"{path}: seq2seq with the encoder {cfg['encoder']!r} has no PyTorch "
                      "reference (known: its recurrent encoder, 'rnn')")
    return meta, cfg, sv, tv


def read_tensors(path, ref):
    """{name: float32 tensor}, read by the reference's own safetensors reader."""
    try:
        tensors, _ = ref["cho"].load_safetensors(path)
    except SystemExit as e:  # the reference's one-line refusal of a dtype other than F32
        raise Refused(str(e))
    except (ValueError, KeyError, TypeError) as e:
        raise Refused(f"{path}: damaged tensor data ({e})")
    return tensors


def build_model(ref, model, cfg, sv, tv, training=False):
    """The reference model for a checkpoint's config. With training=True it gets the dropout
    seqgrad trained it with where the reference has the same dropout (transformer: embeddings and
    layers; seq2seq: between layers, as nn.LSTM's); the returned list names what is not
    reproduced."""
    try:
        return _build_model(ref, model, cfg, sv, tv, training)
    except KeyError as e:
        raise Refused(f"the {model} checkpoint's config has no {e.args[0]!r} entry")


def _build_model(ref, model, cfg, sv, tv, training):
    p = float(cfg.get("dropout", 0.0)) if training else 0.0
    missing = []
    if model == "cho":
        net = ref["cho"].Cho(len(sv), len(tv), cfg["emb"], cfg["hidden"], cfg["maxout"])
        if p > 0:
            missing.append(f"cho's dropout {p} (reference/cho.py has none)")
    elif model == "seq2seq":
        net = ref["seq2seq"].Seq2Seq(len(sv), len(tv), cfg["cell"], cfg["emb"], cfg["hidden"],
                                     cfg["layers"], bool(cfg.get("reverse_source", False)))
        net.encoder.dropout = net.decoder.dropout = p  # nn.RNNBase reads it at every forward
    else:
        net = ref["transformer"].Transformer(len(sv), len(tv), cfg["d_model"], cfg["heads"],
                                             cfg["layers"], cfg["ffn"], bool(cfg["norm_first"]),
                                             p)
        if training and float(cfg.get("label_smoothing", 0.0)) > 0:
            missing.append(f"label smoothing {cfg['label_smoothing']} (reference/transformer.py "
                           "has none)")
    return net, missing


def seqgrad_names(net, model):
    """The model's tensors under seqgrad's (and the reference --export's) names."""
    return net.state() if model == "transformer" else dict(net.state_dict())


def load_weights(net, model, tensors, path):
    """Copies the checkpoint's tensors in, after checking names and shapes (one line if wrong)."""
    want = {k: tuple(v.shape) for k, v in seqgrad_names(net, model).items()}
    have = {k: tuple(v.shape) for k, v in tensors.items()}
    if want.keys() != have.keys():
        absent, extra = sorted(want.keys() - have.keys()), sorted(have.keys() - want.keys())
        raise Refused(f"{path}: the tensors do not match the reference {model} of this config "
                      f"(missing: {', '.join(absent[:5]) or 'none'}; unexpected: "
                      f"{', '.join(extra[:5]) or 'none'})")
    for k, shape in want.items():
        if have[k] != shape:
            raise Refused(f"{path}: tensor {k} has shape {list(have[k])}, the reference {model} "
                          f"of this config expects {list(shape)}")
    if model == "transformer":
        net.load(tensors)
    else:
        net.load_state_dict(tensors, strict=True)


def tokenize(text, kind):
    """As seqgrad's data::tokenize: "char" (Unicode characters) or "space" (split at
    whitespace)."""
    return list(text) if kind == "char" else text.split()


def read_pairs(path):
    """source<TAB>target lines as seqgrad's data::read_tsv reads them: a trailing CR dropped,
    empty lines skipped, exactly one TAB per line."""
    pairs = []
    try:
        with open(path, encoding="utf-8", newline="\n") as f:
            for lineno, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if line.endswith("\r"):
                    line = line[:-1]
                if not line:
                    continue
                if line.count("\t") != 1:
                    raise Refused(f"{path}:{lineno}: expected source<TAB>target, got {line[:60]!r}")
                pairs.append(tuple(line.split("\t")))
    except OSError as e:
        raise Refused(f"{path}: cannot read the file ({e.strerror})")
    except UnicodeDecodeError as e:
        raise Refused(f"{path}: not valid UTF-8 ({e.reason} at byte {e.start})")
    if not pairs:
        raise Refused(f"{path}: no source<TAB>target pairs in the file")
    return pairs


def make_batch(ref, pairs, sv, tv, cfg):
    """cho.py's batch, on token lists: it iterates over each source and target, so a list of
    tokens batches exactly as a string of characters does (and "space" tokens work too)."""
    st, tt = cfg.get("src_tokens", "char"), cfg.get("tgt_tokens", "char")
    return ref["cho"].batch([(tokenize(s, st), tokenize(t, tt)) for s, t in pairs], sv, tv)


def mean_loss(ref, net, pairs, sv, tv, cfg):
    """(summed NLL / target tokens, target tokens), in chunks of 250 pairs as seqgrad eval."""
    import torch
    net.eval()
    nll, tokens = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(pairs), CHUNK):
            s, n = net.loss(*make_batch(ref, pairs[i:i + CHUNK], sv, tv, cfg))
            nll += float(s)
            tokens += n
    return nll / max(tokens, 1), tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True, help="a seqgrad .safetensors checkpoint")
    ap.add_argument("--data", required=True, help="TSV of source<TAB>target pairs to score")
    ap.add_argument("--out", help="also save the reference model's state_dict here (torch.save)")
    ap.add_argument("--reference", default=DEFAULT_REFERENCE,
                    help="folder of the PyTorch reference models (default: %(default)s)")
    args = ap.parse_args()
    try:
        meta, cfg, sv, tv = describe(args.checkpoint)
        pairs = read_pairs(args.data)
        try:
            import torch
        except ImportError:
            raise Refused("PyTorch is not installed for this Python (Debian: apt-get install "
                          "python3-torch, then run with /usr/bin/python3)")
        ref = import_reference(args.reference)
        net, _ = build_model(ref, meta["model"], cfg, sv, tv)
        load_weights(net, meta["model"], read_tensors(args.checkpoint, ref), args.checkpoint)
        loss, tokens = mean_loss(ref, net, pairs, sv, tv, cfg)
    except Refused as e:
        sys.exit(f"to_pytorch: {e}")
    if args.out:
        try:
            torch.save(net.state_dict(), args.out)
        except OSError as e:
            sys.exit(f"to_pytorch: --out {args.out}: cannot write the file ({e.strerror})")
    print(json.dumps({"model": meta["model"], "loss": loss, "tokens": tokens,
                      "sequences": len(pairs),
                      "parameters": sum(p.numel() for p in net.parameters()),
                      **({"out": args.out} if args.out else {})}))


if __name__ == "__main__":
    main()
