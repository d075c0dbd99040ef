#!/usr/bin/env python3
"""Pillow baseline for `cargo xtask bench prep`.

Same work as the Rust pipeline, per image: decode (from bytes in memory)
-> convert("RGB") -> resize the shorter side to SIZE with Image.BILINEAR
(Pillow's antialiased bilinear; reducing_gap=None, i.e. no JPEG draft and no
box reduction) -> centre crop SIZE x SIZE (torchvision's geometry: long side
int(SIZE * long / short), offset round((resized - SIZE) / 2)).

With --draft, Image.draft() first lets libjpeg decode at a reduced DCT scale
(1/2, 1/4, 1/8) when the result stays at least as large as the resized
image: a faster but different (and not pixel-equivalent) pipeline, reported
separately.

Workers: a multiprocessing Pool (fork) with the given worker count; the
image bytes are loaded before the pool starts and shared by fork. Prints one
JSON object with images/s.
"""

import argparse
import io
import json
import math
import multiprocessing as mp
import os
import sys
import time

from PIL import Image, __version__ as PIL_VERSION

DATA = []
SIZE = 256
DRAFT = False


def process(i):
    im = Image.open(io.BytesIO(DATA[i]))
    w, h = im.size
    if w <= h:
        nw, nh = SIZE, int(SIZE * h / w)
    else:
        nw, nh = int(SIZE * w / h), SIZE
    if DRAFT:
        im.draft("RGB", (nw, nh))
    im = im.convert("RGB")
    im = im.resize((nw, nh), Image.BILINEAR, reducing_gap=None)
    left = int(round((nw - SIZE) / 2.0))
    top = int(round((nh - SIZE) / 2.0))
    im = im.crop((left, top, left + SIZE, top + SIZE))
    return len(im.tobytes())


def is_image(b):
    return b.startswith(b"\xff\xd8\xff") or b.startswith(b"\x89PNG\r\n\x1a\n")


def main():
    global DATA, SIZE, DRAFT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", required=True)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--min-seconds", type=float, default=2.0)
    ap.add_argument("--draft", action="store_true")
    a = ap.parse_args()
    SIZE, DRAFT = a.size, a.draft
    names = sorted(os.listdir(a.images))
    for n in names:
        with open(os.path.join(a.images, n), "rb") as f:
            b = f.read()
        if is_image(b):
            DATA.append(b)
        if a.limit and len(DATA) >= a.limit:
            break
    if not DATA:
        sys.exit(f"no JPEG/PNG images in {a.images}")
    chunk = max(1, len(DATA) // (a.workers * 8))

    def run(reps):
        # reps passes as ONE map, so workers never wait at pass boundaries
        # (the Rust side is timed the same way).
        idx = [i % len(DATA) for i in range(reps * len(DATA))]
        if pool is None:
            for i in idx:
                process(i)
        else:
            pool.map(process, idx, chunksize=chunk)

    ctx = mp.get_context("fork")
    pool = ctx.Pool(a.workers) if a.workers > 1 else None
    try:
        t = time.perf_counter()
        run(1)  # warm-up (and worker start-up), and the length of one pass
        reps = max(1, math.ceil(a.min_seconds / max(time.perf_counter() - t, 1e-6)))
        t0 = time.perf_counter()
        run(reps)
        elapsed = time.perf_counter() - t0
        done = reps * len(DATA)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    print(json.dumps({
        "images": len(DATA),
        "processed": done,
        "seconds": elapsed,
        "images_per_sec": done / elapsed,
        "workers": a.workers,
        "draft": DRAFT,
        "pillow": PIL_VERSION,
    }))


if __name__ == "__main__":
    main()
