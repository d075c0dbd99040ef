#!/usr/bin/env python3
"""PyTorch baseline for `cargo xtask bench train`.

A plain PyTorch training loop over the same prepared shards and the same
recipe as `cargo xtask train`: a DataLoader (--workers processes, shuffled,
whole batches) whose per-image work is the Rust loader's (random crop x
crop window, horizontal flip with p = 0.5, the mean image cropped and
flipped with it subtracted, PCA lighting with alpha ~ N(0, 0.1)); the
paper's network or the tiny one (torch_compare.py); cross-entropy; SGD with
momentum 0.9, dampening 0, weight decay 5e-4; and per step the loss read
back and top-1/top-5 counted, as the trainer logs them.

The clock runs from the end of step --warmup to the end of step
--warmup + --steps, so worker start-up and first touches are not counted
but every loader wait after them is. Prints one JSON line:
{"torch", "threads", "workers", "steps", "images", "seconds", "images_per_s"}.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_compare import PAPER, TINY, paper_alexnet  # noqa: E402


class Shards(Dataset):
    """The train split of a prepared dataset, augmented per image."""

    def __init__(self, root, crop):
        with open(os.path.join(root, "manifest.json")) as f:
            man = json.load(f)
        self.root, self.crop = root, crop
        self.files = [(s["images"], s["labels"]) for s in man["train"]["shards"]]
        self.counts = [s["count"] for s in man["train"]["shards"]]
        self.classes = len(man["classes"])
        stats = man["color_stats"]
        self.mean = np.load(os.path.join(root, stats["mean_image"])).astype(np.float32) * 255.0
        self.eigval = np.asarray(stats["eigenvalues"], dtype=np.float32)
        self.eigvec = np.asarray(stats["eigenvectors"], dtype=np.float32)
        self.index = [(s, i) for s, n in enumerate(self.counts) for i in range(n)]
        self.shards = None  # opened in each worker

    def __len__(self):
        return len(self.index)

    def __getitem__(self, j):
        if self.shards is None:
            self.shards = [(np.load(os.path.join(self.root, im), mmap_mode="r"),
                            np.load(os.path.join(self.root, lb))) for im, lb in self.files]
            self.rng = np.random.default_rng(torch.initial_seed() % 2**32)
        s, k = self.index[j]
        images, labels = self.shards[s]
        size, crop, rng = images.shape[1], self.crop, self.rng
        y, x = rng.integers(0, size - crop + 1, size=2)
        img = images[k, y:y + crop, x:x + crop]
        m = self.mean[y:y + crop, x:x + crop]
        if rng.random() < 0.5:
            img, m = img[:, ::-1], m[:, ::-1]
        alpha = rng.normal(0.0, 0.1, 3).astype(np.float32)
        offset = self.eigvec @ (alpha * self.eigval) * np.float32(255.0)
        out = np.subtract(img, m, dtype=np.float32)
        out += offset
        return torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1))), int(labels[k])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True, help="prepared dataset (manifest.json)")
    p.add_argument("--model", default="tiny", choices=["paper", "tiny"])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.01)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shape = TINY if args.model == "tiny" else PAPER
    data = Shards(args.data, shape["input"])
    need = (args.warmup + args.steps) * args.batch
    if len(data) < need:
        sys.exit(f"{args.data}: {len(data)} train images, the benchmark needs {need} in one epoch")
    loader = DataLoader(data, batch_size=args.batch, shuffle=True, drop_last=True,
                        num_workers=args.workers, persistent_workers=args.workers > 0)
    model = paper_alexnet(data.classes, shape)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, dampening=0.0, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()

    top1 = top5 = seen = 0
    t0 = None
    for step, (x, y) in enumerate(loader):
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        opt.step()
        # What the trainer logs each step: the loss and top-1/top-5 counts.
        loss_value = loss.item()
        best = logits.detach().topk(min(5, data.classes), dim=1).indices
        hit = best == y[:, None]
        top1 += hit[:, 0].sum().item()
        top5 += hit.any(dim=1).sum().item()
        seen += len(y)
        if not np.isfinite(loss_value):
            sys.exit(f"loss became {loss_value} at step {step + 1}")
        if step + 1 == args.warmup:
            t0 = time.perf_counter()
        if step + 1 == args.warmup + args.steps:
            break
    seconds = time.perf_counter() - t0
    images = args.steps * args.batch
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "workers": args.workers, "steps": args.steps, "images": images,
                      "seconds": seconds, "images_per_s": images / seconds}))


if __name__ == "__main__":
    main()
