"""Writes the fixture the loader's torchvision-normalisation test compares
against: a prepared 24x24 RGB image (uint8, HWC, as prep writes them) and
torchvision's evaluation transform of it, CenterCrop(16) and TenCrop(16)
after ToTensor + Normalize(ImageNet mean, std).

Run with torch and torchvision installed, from this directory:
    python torchvision_fixture.py
Files (raw little-endian, no header):
    tv_image.u8      24*24*3 bytes, HWC
    tv_center.f32    3*16*16 float32, CHW
    tv_tencrop.f32   10*3*16*16 float32, torchvision's TenCrop order
"""

import numpy as np
import torch
import torchvision
from torchvision import transforms as T

rng = np.random.default_rng(20261203)
image = rng.integers(0, 256, size=(24, 24, 3), dtype=np.uint8)
normalize = T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
x = T.ToTensor()(image)  # HWC uint8 -> CHW float in [0, 1]
center = normalize(T.CenterCrop(16)(x))
ten = torch.stack([normalize(c) for c in T.TenCrop(16)(x)])
image.tofile("tv_image.u8")
center.numpy().astype("<f4").tofile("tv_center.f32")
ten.numpy().astype("<f4").tofile("tv_tencrop.f32")
print("torch", torch.__version__, "torchvision", torchvision.__version__)
print("center[0,0,:4]", center[0, 0, :4].tolist())
