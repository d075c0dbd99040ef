#!/usr/bin/env python3
"""Compare this crate's AlexNet with PyTorch on the same random weights.

torchvision variant: torchvision.models.alexnet() with random weights, its
state dict saved to safetensors under torchvision's own names.
paper variant: the paper's network written below in PyTorch (LRN per tower
with PyTorch's alpha = paper alpha * size, grouped conv2/4/5, dropout after
fc6/fc7), saved under this crate's names (docs/MODEL.md).

For each variant the script writes weights and a batch of inputs, runs
the `logits` example (built with the workspace), and prints the maximum
relative error of the logits, max|ours - torch| / max|torch| (target < 1e-4),
and the largest element-wise relative error.

lrn variant: the fused LRN alone (the `lrn_grad` example), one tower and two,
on activation-like inputs: y = lrn(x) and the gradient of sum(y * r) with
respect to x, against torch.nn.LocalResponseNorm and PyTorch's autograd.

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


# The paper's layer shapes, and the tiny model's (AlexNetConfig::tiny: a
# quarter of the widths, conv1 5x5 stride 2, 64x64 inputs).
PAPER = dict(channels=(96, 256, 384, 384, 256), kernels=(11, 5, 3, 3, 3), strides=(4, 1, 1, 1, 1),
             paddings=(2, 2, 1, 1, 1), fc=4096, input=224)
TINY = dict(channels=(24, 64, 96, 96, 64), kernels=(5, 5, 3, 3, 3), strides=(2, 1, 1, 1, 1),
            paddings=(2, 2, 1, 1, 1), fc=256, input=64)


def paper_alexnet(num_classes, shape=PAPER):
    """The paper's network (LRN after conv1/conv2, groups 2 in conv2/4/5,
    dropout after fc6/fc7), with `shape`'s widths and kernels."""
    ch, k, st, pad = shape["channels"], shape["kernels"], shape["strides"], shape["paddings"]
    groups = (1, 2, 1, 2, 2)
    convs = [nn.Conv2d(cin, cout, k[i], stride=st[i], padding=pad[i], groups=groups[i])
             for i, (cin, cout) in enumerate(zip((3,) + ch[:4], ch))]
    features = nn.Sequential(
        convs[0], nn.ReLU(inplace=True), PaperLRN(), nn.MaxPool2d(3, 2),  # 0
        convs[1], nn.ReLU(inplace=True), PaperLRN(), nn.MaxPool2d(3, 2),  # 4
        convs[2], nn.ReLU(inplace=True),  # 8
        convs[3], nn.ReLU(inplace=True),  # 10
        convs[4], nn.ReLU(inplace=True),  # 12
        nn.MaxPool2d(3, 2),
    )
    with torch.no_grad():
        flat = features(torch.zeros(1, 3, shape["input"], shape["input"])).numel()
    fc = shape["fc"]
    classifier = nn.Sequential(
        nn.Linear(flat, fc),  # 0
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(fc, fc),  # 3
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(fc, num_classes),  # 6
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


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_examples():
    # The whole workspace, as every build here: `-p alexnet` alone would
    # unify other features and rebuild burn.
    subprocess.run(["cargo", "build", "--quiet", "--release", "--workspace", "--locked", "--examples"],
                   check=True, cwd=ROOT)


def example(name):
    return os.path.join(ROOT, "target", "release", "examples", name)


def rel_errors(ours, expected):
    diff = (ours - expected).abs()
    rel = (diff.max() / expected.abs().max()).item()
    elem = (diff / expected.abs().clamp_min(1e-3 * expected.abs().max())).max().item()
    return rel, elem


def compare_lrn(args, work):
    ok = True
    for groups, shape in [(1, (args.batch, 96, 27, 27)), (2, (args.batch, 256, 13, 13))]:
        torch.manual_seed(args.seed)
        # Post-ReLU conv1-like magnitudes, so alpha * sum x^2 is comparable to k.
        x = (torch.randn(shape) * 60.0).relu().requires_grad_()
        r = torch.randn(shape)
        y = PaperLRN(groups=groups)(x)
        (y * r).sum().backward()
        inputs = os.path.join(work, f"lrn{groups}_inputs.safetensors")
        out = os.path.join(work, f"lrn{groups}_out.safetensors")
        save_file({"x": x.detach().contiguous(), "r": r.contiguous()}, inputs)
        subprocess.run([example("lrn_grad"), str(groups), inputs, out], check=True)
        ours = load_file(out)
        for name, mine, theirs in [("y", ours["y"], y.detach()), ("dx", ours["dx"], x.grad)]:
            rel, elem = rel_errors(mine, theirs)
            good = rel < 1e-5
            ok = ok and good
            print(f"lrn groups {groups} {name:2s} {tuple(shape)}  max rel err {rel:.3e}  "
                  f"element-wise {elem:.3e}  {'OK' if good else 'FAIL'} (target < 1e-5)")
    return ok


def compare(variant, args, work):
    if variant == "lrn":
        return compare_lrn(args, work)
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
    subprocess.run([example("logits"), variant, str(args.classes), weights, inputs, out], check=True)
    ours = load_file(out)["logits"]

    rel, elem = rel_errors(ours, expected)
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
    p.add_argument("--variants", default="torchvision,paper,lrn")
    args = p.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    build_examples()
    with tempfile.TemporaryDirectory() as work:
        results = [compare(v, args, work) for v in args.variants.split(",")]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
