#!/usr/bin/env python3
"""NumPy baseline for `cargo xtask bench loader`.

Does the same per-image work as the Rust TrainLoader on the same shards:
np.load(mmap_mode="r") of every shard, a random crop x crop window, a
horizontal flip with p = 0.5, the mean image (cropped and flipped with the
image) subtracted, PCA lighting (alpha ~ N(0, 0.1), offset = eigvec @
(alpha * eigval) * 255), HWC -> CHW float32, stacked into batches of
--batch-size. With --threads N > 1, N worker processes (multiprocessing,
fork) each make their share of the batches, as a PyTorch DataLoader's
workers would; the batches are not sent back to the parent, which favours
NumPy (the Rust number includes handing every batch to the consumer).
Prints one JSON line: {"threads", "images", "seconds", "images_per_s",
"cpu_seconds"}, cpu_seconds being the CPU time the batch-making processes
used (time.process_time in each), so images per CPU-second can be compared
even on a machine busy with other work.
"""

import argparse
import json
import multiprocessing as mp
import os
import time

import numpy as np


def open_split(root):
    with open(os.path.join(root, "manifest.json")) as f:
        man = json.load(f)
    shards = [np.load(os.path.join(root, s["images"]), mmap_mode="r") for s in man["train"]["shards"]]
    stats = man["color_stats"]
    mean = np.load(os.path.join(root, stats["mean_image"])).astype(np.float32) * 255.0
    eigval = np.asarray(stats["eigenvalues"], dtype=np.float32)
    eigvec = np.asarray(stats["eigenvectors"], dtype=np.float32)
    return shards, mean, eigval, eigvec


def make_batches(args, worker, nbatches):
    shards, mean, eigval, eigvec = open_split(args.dir)
    index = [(s, i) for s in range(len(shards)) for i in range(shards[s].shape[0])]
    size, crop, bs = shards[0].shape[1], args.crop, args.batch_size
    rng = np.random.default_rng(1000 + worker)
    order = rng.permutation(len(index))
    tmp = np.empty((crop, crop, 3), dtype=np.float32)
    pos = 0
    for _ in range(nbatches):
        out = np.empty((bs, 3, crop, crop), dtype=np.float32)
        for i in range(bs):
            s, k = index[order[pos % len(order)]]
            pos += 1
            y, x = rng.integers(0, size - crop + 1, size=2)
            img = shards[s][k, y:y + crop, x:x + crop]
            m = mean[y:y + crop, x:x + crop]
            if rng.random() < 0.5:
                img = img[:, ::-1]
                m = m[:, ::-1]
            alpha = rng.normal(0.0, 0.1, 3).astype(np.float32)
            offset = eigvec @ (alpha * eigval) * np.float32(255.0)
            np.subtract(img, m, out=tmp, dtype=np.float32)
            tmp += offset
            out[i] = tmp.transpose(2, 0, 1)
        del out
    return nbatches * bs


def timed(args, worker, nbatches):
    cpu = time.process_time()
    images = make_batches(args, worker, nbatches)
    return images, time.process_time() - cpu


def worker_main(job):
    return timed(*job)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dir", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--crop", type=int, default=224)
    args = p.parse_args()
    per = [args.batches // args.threads + (w < args.batches % args.threads) for w in range(args.threads)]
    if args.threads == 1:
        make_batches(args, 99, 1)  # warm-up: imports, first touches
        t0 = time.perf_counter()
        images, cpu = timed(args, 0, args.batches)
        seconds = time.perf_counter() - t0
    else:
        with mp.get_context("fork").Pool(args.threads) as pool:
            pool.map(worker_main, [(args, 99 + w, 1) for w in range(args.threads)])  # warm-up
            t0 = time.perf_counter()
            done = pool.map(worker_main, [(args, w, n) for w, n in enumerate(per)])
            seconds = time.perf_counter() - t0
            images, cpu = sum(d[0] for d in done), sum(d[1] for d in done)
    print(json.dumps({"threads": args.threads, "images": images, "seconds": seconds,
                      "images_per_s": images / seconds, "cpu_seconds": cpu}))


if __name__ == "__main__":
    main()
