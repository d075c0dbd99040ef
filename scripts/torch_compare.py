#!/usr/bin/env python3
"""Compare this crate's AlexNet with PyTorch on the same random weights.

torchvision variant: torchvision.models.alexnet() with random weights, its
state dict saved to safetensors under torchvision's own names.
paper variant: the paper's network written below in PyTorch (LRN per tower
with PyTorch's alpha = paper alpha * size, grouped conv2/4/5, dropout after
fc6/fc7), saved under this crate's names (docs/MODEL.md).

For each variant the script writes weights and a batch of inputs, runs
`cargo run --release -p alexnet --example logits`, and prints the maximum
relative error of the logits, max|ours - torch| / max|torch| (target < 1e-4),
and the largest element-wise relative error.

Needs torch, torchvision and safetensors (pip install torch torchvision
safetensors). Not part of CI: torch is a multi-GB install.

Usage: python3 scripts/torch_compare.py [--batch 4] [--classes 1000] [--seed 0]
"""

import argparse
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torchvision
from safetensors.torch import load_file, save_file


class PaperLRN(nn.Module):
    """The paper's LRN (alpha not divided by n), normalising each tower alone."""

    def __init__(self, groups=2, size=5, alpha=1e-4, beta=0.75, k=2.0):
        super().__init__()
        self.groups = groups
        # PyTorch divides alpha by size; undo it.
        self.lrn = nn.LocalResponseNorm(size, alpha=alpha * size, beta=beta, k=k)

    def forward(self, x):
        return torch.cat([self.lrn(t) for t in x.chunk(self.groups, dim=1)], dim=1)


def paper_alexnet(num_classes):
    features = nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4, padding=2),  # 0
        nn.ReLU(inplace=True),
        PaperLRN(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2),  # 4
        nn.ReLU(inplace=True),
        PaperLRN(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1),  # 8
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=2),  # 10
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=2),  # 12
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2),
    )
    classifier = nn.Sequential(
        nn.Linear(9216, 4096),  # 0
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(4096, 4096),  # 3
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(4096, num_classes),  # 6
    )

    class Paper(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = features
            self.classifier = classifier

        def forward(self, x):
            return self.classifier(torch.flatten(self.features(x), 1))

    model = Paper()
    # Biases 1 where the paper puts them, so the comparison exercises them.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.normal_(m.bias, 0.5, 0.5)
    return model


def compare(variant, args, work):
    torch.manual_seed(args.seed)
    if variant == "torchvision":
        model = torchvision.models.alexnet(weights=None, num_classes=args.classes)
        scale = 1.0
    else:
        model = paper_alexnet(args.classes)
        scale = 50.0  # raw-pixel-like magnitudes so LRN matters
    model.eval()
    images = torch.randn(args.batch, 3, 224, 224) * scale
    with torch.no_grad():
        expected = model(images)

    weights = os.path.join(work, f"{variant}.safetensors")
    inputs = os.path.join(work, f"{variant}_inputs.safetensors")
    out = os.path.join(work, f"{variant}_logits.safetensors")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, weights)
    save_file({"images": images.contiguous()}, inputs)
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "alexnet", "--example", "logits", "--",
           variant, str(args.classes), weights, inputs, out]
    subprocess.run(cmd, check=True)
    ours = load_file(out)["logits"]

    diff = (ours - expected).abs()
    rel = (diff.max() / expected.abs().max()).item()
    elem = (diff / expected.abs().clamp_min(1e-3 * expected.abs().max())).max().item()
    agree = (ours.argmax(1) == expected.argmax(1)).float().mean().item()
    ok = rel < 1e-4
    print(f"{variant:12s} logits {tuple(expected.shape)}  max|torch| {expected.abs().max().item():.4g}  "
          f"max rel err {rel:.3e}  element-wise {elem:.3e}  argmax agree {agree:.0%}  "
          f"{'OK' if ok else 'FAIL'} (target < 1e-4)")
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variants", default="torchvision,paper")
    args = p.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    with tempfile.TemporaryDirectory() as work:
        results = [compare(v, args, work) for v in args.variants.split(",")]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
