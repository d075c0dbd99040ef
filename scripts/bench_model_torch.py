#!/usr/bin/env python3
"""PyTorch baseline for `cargo xtask bench model`.

Times the same work as the Rust side: the paper's AlexNet (LRN, grouped
conv2/4/5; defined in torch_compare.py) or torchvision's, on a random
224x224 batch: a forward pass in eval mode under no_grad, and one SGD
training step (forward, cross-entropy, backward, update; momentum 0.9,
dampening 0, weight decay 5e-4) in train mode, on --device (cpu or
cuda, synchronised before each timing ends). Prints one JSON line:
{"torch": version, "threads": n, "forward_ms": [...], "train_ms": [...]}.
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_compare import paper_alexnet  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="paper", choices=["paper", "torchvision"])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    args = p.parse_args()
    dev = torch.device(args.device)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model == "paper":
        model = paper_alexnet(args.classes)
    else:
        import torchvision

        model = torchvision.models.alexnet(weights=None, num_classes=args.classes)
    model = model.to(dev)
    x = (torch.randn(args.batch, 3, 224, 224) * 50.0).to(dev)
    y = (torch.arange(args.batch) % args.classes).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, dampening=0.0, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()

    forward_ms = []
    model.eval()
    with torch.no_grad():
        for i in range(args.warmup + args.iters):
            t = time.perf_counter()
            model(x)
            sync()
            if i >= args.warmup:
                forward_ms.append((time.perf_counter() - t) * 1e3)

    train_ms = []
    model.train()
    for i in range(args.warmup + args.iters):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        sync()
        if i >= args.warmup:
            train_ms.append((time.perf_counter() - t) * 1e3)

    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "forward_ms": forward_ms, "train_ms": train_ms}))


if __name__ == "__main__":
    main()
