#!/usr/bin/python3
"""Writes tests/fixtures/transformer/: the Transformer reference (../shared/reference/transformer.py)
on a ragged batch, for seqgrad's parity test (tests/models/transformer_test.cpp).

Run with Debian's python3 (torch 1.13) from the repository root:
    /usr/bin/python3 tools/make_transformer_fixtures.py [path/to/reference]

For each case (pre- and post-LayerNorm, 1-3 layers, 1-4 heads) it runs the reference script itself,
    transformer.py --data pairs.tsv --export reference_<case>.safetensors --scale 0.3 --seed K ...
which draws every parameter from N(0, 0.3^2), writes the checkpoint with the reference's metadata
and prints the teacher-forced loss (mean NLL per target token) on the whole file as one batch:
that line is reference_<case>.json. Then, with the reference's own Transformer class loaded from
that checkpoint, it computes the same loss with autograd and writes the gradient of every
parameter to reference_<case>.grads.safetensors (same names). Dropout is 0 throughout.
"""

import json
import os
import subprocess
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "reference")
OUT = os.path.join(ROOT, "tests", "fixtures", "transformer")
sys.path.insert(0, REF)
import cho  # noqa: E402
import transformer  # noqa: E402

# name: (layers, heads, d_model, ffn, post_ln, seed)
CASES = {
    "pre_l1_h1": (1, 1, 8, 16, False, 1),
    "pre_l3_h4": (3, 4, 16, 24, False, 2),
    "post_l1_h4": (1, 4, 8, 12, True, 3),
    "post_l2_h2": (2, 2, 12, 20, True, 4),
    "post_l3_h1": (3, 1, 8, 16, True, 5),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    pairs_path = os.path.join(OUT, "pairs.tsv")
    pairs = cho.read_pairs(pairs_path)
    for name, (layers, heads, d, ffn, post_ln, seed) in CASES.items():
        ckpt = os.path.join(OUT, f"reference_{name}.safetensors")
        cmd = ["/usr/bin/python3", os.path.join(REF, "transformer.py"), "--data", pairs_path,
               "--export", ckpt, "--layers", str(layers), "--heads", str(heads), "--d-model",
               str(d), "--ffn", str(ffn), "--scale", "0.3", "--seed", str(seed)]
        if post_ln:
            cmd.append("--post-ln")
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
        with open(os.path.join(OUT, f"reference_{name}.json"), "w") as f:
            f.write(line + "\n")

        tensors, meta = cho.load_safetensors(ckpt)
        cfg = json.loads(meta["config"])
        sv, tv = json.loads(meta["src_vocab"]), json.loads(meta["tgt_vocab"])
        model = transformer.Transformer(len(sv), len(tv), cfg["d_model"], cfg["heads"],
                                        cfg["layers"], cfg["ffn"], cfg["norm_first"])
        model.load(tensors)
        model.train()  # dropout is 0; train mode keeps PyTorch off its inference fast path
        nll, ntok = model.loss(*cho.batch(pairs, sv, tv))
        (nll / ntok).backward()
        grads = {k.replace("core.", "", 1): p.grad for k, p in model.named_parameters()}
        cho.save_safetensors(os.path.join(OUT, f"reference_{name}.grads.safetensors"), grads,
                             {"loss": str(float(nll) / ntok)})
        print(name, line, f"(autograd: {float(nll) / ntok:.9f})")


if __name__ == "__main__":
    main()
