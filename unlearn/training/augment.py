"""Batched, seeded data augmentation on float tensors [B, 3, H, W] in [0, 1].

Each example draws its own random parameters from the given torch.Generator, so the
result depends only on the seed, never on worker processes or global RNG state. The
generator is a CPU one and the draws are made on the CPU, then moved to the images'
device: the same seed gives the same parameters on every device, and a batch on the GPU
is augmented there without a host round trip (no boolean indexing, which would sync).
"""
import math

import torch
import torch.nn.functional as F

# the type of an `augment` key and its values, declared with the params sections
from unlearn.core.sections import AUGMENTATIONS, Augment


def random_flip(x, generator):
    flip = (torch.rand(len(x), generator=generator) < 0.5).to(x.device, non_blocking=True)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_affine(x, generator, shear_deg=10.0, scale=(0.8, 1.2)):
    """RandomAffine(0, shear=shear_deg, scale=scale) as in Choi & Na, per example."""
    b = len(x)
    s = torch.empty(b).uniform_(scale[0], scale[1], generator=generator)
    sh = torch.empty(b).uniform_(-shear_deg, shear_deg, generator=generator) * math.pi / 180
    # Inverse map for grid_sample: output coords → input coords.
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = 1.0 / s
    theta[:, 0, 1] = -torch.tan(sh) / s
    theta[:, 1, 1] = 1.0 / s
    grid = F.affine_grid(theta.to(device=x.device, dtype=x.dtype), list(x.shape),
                         align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def color_jitter(x, generator, strength=0.2):
    """ColorJitter(brightness, contrast, saturation = strength), factors per example."""
    b = len(x)

    def factor():
        return torch.empty(b, 1, 1, 1).uniform_(1 - strength, 1 + strength,
                                                generator=generator).to(x)
    x = x * factor()
    gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    x = (x - gray.mean((2, 3), keepdim=True)) * factor() + gray.mean((2, 3), keepdim=True)
    x = (x - gray) * factor() + gray
    return x.clamp_(0, 1)


def augment(x, kind: Augment, generator):
    if kind == "none":
        return x
    if kind == "flip":
        return random_flip(x, generator)
    if kind == "choi_na":
        return color_jitter(random_affine(random_flip(x, generator), generator), generator)
    raise ValueError(f"augment {kind!r} unknown; choose from {AUGMENTATIONS}")
