#!/usr/bin/env python3
"""Lists the tensors and metadata of a safetensors file (a seqgrad checkpoint or any other), using
only the standard library: no torch, no numpy. It checks the file the way seqgrad's loader does
(header length, JSON, dtypes, shapes, offsets covering the data exactly once), so it doubles as a
quick check that a file is intact.

    tools/read_safetensors.py model.safetensors            # name, dtype, shape; metadata
    tools/read_safetensors.py model.safetensors --values 4 # and the first 4 values of each
    tools/read_safetensors.py model.safetensors --json     # the same as one JSON object

Exits with status 1 and a message naming the file and the problem when the file is damaged.
"""
import argparse
import json
import struct
import sys

# dtype -> (bytes per element, struct format letter). F16/BF16 etc. are listed but not decoded.
ITEM = {"F64": (8, "d"), "F32": (4, "f"), "I64": (8, "q"), "I32": (4, "i"), "I16": (2, "h"),
        "I8": (1, "b"), "U8": (1, "B"), "BOOL": (1, "?"), "F16": (2, "e"), "BF16": (2, None)}
MAX_HEADER = 100_000_000  # the limit of the reference safetensors library and of seqgrad


class Damaged(Exception):
    pass


def no_duplicate_keys(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise Damaged(f"the header names '{k}' twice")
        out[k] = v
    return out


def read(path):
    """Returns (tensors, metadata, data): tensors maps name -> (dtype, shape, begin, end)."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise Damaged(f"cannot open: {e.strerror}")
    if len(blob) < 8:
        raise Damaged(f"the file is only {len(blob)} bytes long, too short for the header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER:
        raise Damaged(f"header length {n} is over the {MAX_HEADER} byte limit")
    if 8 + n > len(blob):
        raise Damaged(f"header length {n} runs past the end of the file ({len(blob)} bytes)")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"), object_pairs_hook=no_duplicate_keys)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Damaged(f"the header is not valid JSON ({e})")
    if not isinstance(header, dict):
        raise Damaged("the header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise Damaged("__metadata__ must map strings to strings")
    data = blob[8 + n:]
    tensors = {}
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise Damaged(f"tensor '{name}' needs exactly dtype, shape and data_offsets")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in ITEM:
            raise Damaged(f"tensor '{name}' has an unknown dtype {dtype!r}")

        def is_count(v):
            return isinstance(v, int) and not isinstance(v, bool) and v >= 0

        if not isinstance(shape, list) or not all(is_count(d) for d in shape):
            raise Damaged(f"tensor '{name}': shape must be a list of non-negative integers")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(is_count(o) for o in offsets)):
            raise Damaged(f"tensor '{name}': data_offsets must be two non-negative integers")
        numel = 1
        for d in shape:
            numel *= d
        begin, end = offsets
        if end < begin or end - begin != numel * ITEM[dtype][0]:
            raise Damaged(f"tensor '{name}': data_offsets {offsets} do not fit {dtype} {shape}")
        if end > len(data):
            raise Damaged(f"tensor '{name}': data_offsets {offsets} run past the end of the "
                          f"data section ({len(data)} bytes)")
        tensors[name] = (dtype, shape, begin, end)
    covered = 0
    for name, (_, _, begin, end) in sorted(tensors.items(), key=lambda kv: kv[1][2:]):
        if begin != covered:
            problem = "overlaps the tensor before it" if begin < covered else "leaves a gap"
            raise Damaged(f"tensor '{name}' at [{begin}, {end}] {problem}")
        covered = end
    if covered != len(data):
        raise Damaged(f"{len(data) - covered} trailing bytes after the last tensor")
    return tensors, metadata, data


def first_values(dtype, data, begin, end, count):
    size, letter = ITEM[dtype]
    if letter is None:
        return None
    count = min(count, (end - begin) // size)
    return list(struct.unpack_from(f"<{count}{letter}", data, begin))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path")
    ap.add_argument("--values", type=int, default=0, metavar="N",
                    help="also print the first N values of each tensor")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = ap.parse_args()
    try:
        tensors, metadata, data = read(args.path)
    except Damaged as e:
        sys.exit(f"{args.path}: {e}")

    if args.json:
        out = {"tensors": {}, "metadata": metadata}
        for name, (dtype, shape, begin, end) in sorted(tensors.items()):
            out["tensors"][name] = {"dtype": dtype, "shape": shape}
            if args.values:
                out["tensors"][name]["values"] = first_values(dtype, data, begin, end, args.values)
        print(json.dumps(out))
        return
    width = max((len(name) for name in tensors), default=4)
    total = sum(end - begin for (_, _, begin, end) in tensors.values())
    print(f"{args.path}: {len(tensors)} tensors, {total} bytes of data")
    for name, (dtype, shape, begin, end) in sorted(tensors.items()):
        line = f"  {name:<{width}}  {dtype:<4}  {shape}"
        if args.values:
            line += f"  {first_values(dtype, data, begin, end, args.values)}"
        print(line)
    if metadata:
        print("metadata:")
        for key, value in sorted(metadata.items()):
            shown = value if len(value) <= 200 else value[:200] + f"... ({len(value)} chars)"
            print(f"  {key} = {shown}")


if __name__ == "__main__":
    main()
