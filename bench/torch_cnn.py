#!/usr/bin/python3
"""The PyTorch side of `seqgrad classify`: the same CNN, data, recipe and thread count.

    /usr/bin/python3 bench/torch_cnn.py [--threads 1] [--epochs 2] [--max-steps N]

Same network (nn.Sequential with the layer order of models/cnn.h), Fashion-MNIST from Debian's
dataset-fashion-mnist standardised with mean 0.2860 / std 0.3530, batch 64, SGD lr 0.01 momentum 0.9,
shuffled every epoch. Prints progress and, like seqgrad, one JSON line with the test accuracy and
the training throughput (images per second of training steps, evaluation excluded).
--max-steps stops each epoch early (for a quick throughput measurement).
"""
import argparse
import gzip
import json
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_threads import set_threads

DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return torch.frombuffer(bytearray(data[4 + 4 * rank:]), dtype=torch.uint8).reshape(dims)


def load(split):
    images = read_idx(f"{DIR}/{split}-images-idx3-ubyte.gz").float().div(255)
    labels = read_idx(f"{DIR}/{split}-labels-idx1-ubyte.gz").long()
    return ((images - 0.2860) / 0.3530).unsqueeze(1), labels


def make_net():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    set_threads(args.threads)
    torch.manual_seed(args.seed)
    train_x, train_y = load("train")
    test_x, test_y = load("t10k")
    net = make_net()
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
    train_seconds, images, acc = 0.0, 0, 0.0
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(train_y))
        steps = (len(train_y) + args.batch - 1) // args.batch
        if args.max_steps:
            steps = min(steps, args.max_steps)
        t0 = time.perf_counter()
        for step in range(steps):
            idx = order[step * args.batch:(step + 1) * args.batch]
            loss = F.cross_entropy(net(train_x[idx]), train_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            images += len(idx)
        train_seconds += time.perf_counter() - t0
        with torch.no_grad():
            net.eval()
            correct = sum(int((net(test_x[i:i + 1000]).argmax(1) == test_y[i:i + 1000]).sum())
                          for i in range(0, len(test_y), 1000))
            net.train()
        acc = correct / len(test_y)
        print(f"epoch {epoch}: test accuracy {100 * acc:.2f}%  ({images / train_seconds:.0f} img/s)",
              flush=True)
    print(json.dumps({"framework": "pytorch " + torch.__version__, "threads": args.threads,
                      "epochs": args.epochs, "test_accuracy": round(acc, 4),
                      "train_images_per_s": round(images / train_seconds, 1)}))


if __name__ == "__main__":
    main()
