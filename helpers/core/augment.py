"""Augmentation both tasks train with: the random affine change of every training image.

Every random value is drawn on the CPU from the epoch's seeded generator (the same data on every device) and reaches
the device through `core.device.to_device`, which never makes the host wait.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .device import to_device


def random_affine(images: torch.Tensor, generator: torch.Generator, background: float,
                  degrees: float = 10.0, shift: float = 2.0, scale: float = 0.1, elastic: float = 0.0) -> torch.Tensor:
    """Rotate, scale and shift each image of a normalized batch at random, filling with `background`.

    `elastic` > 0 also bends each image by a smooth random displacement field, as Simard et al. (2003) did for MNIST:
    every point of a 4x4 grid moves by up to `elastic` pixels in x and y, drawn uniformly, and the moves in between
    follow by bicubic interpolation (9 px apart: strokes bend, they do not break; it overshoots the grid's moves by
    up to about half). One sampling of the image. Not `shifts.elastic`, the robustness benchmark's torchvision-exact
    shift: its field is a Gaussian-blurred value per pixel (50 times the draws, and a blur, per image) and it samples
    the image a second time."""
    n, size = len(images), images.shape[-1]
    u = to_device(torch.rand(n, 4, generator=generator) * 2 - 1, images.device)
    angle, zoom = u[:, 0] * math.radians(degrees), 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    offsets = u[:, 2:] * shift * 2 / size  # pixels -> affine_grid's [-1, 1] units
    theta = torch.stack([torch.stack([cos, -sin, offsets[:, 0]], 1), torch.stack([sin, cos, offsets[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    if elastic:  # drawn after the affine's values, so the affine part is the same with and without
        coarse = to_device(torch.rand(n, 2, 4, 4, generator=generator) * 2 - 1, images.device) * (elastic * 2 / size)
        grid = grid + F.interpolate(coarse, size=images.shape[-2:], mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    return F.grid_sample(images - background, grid, align_corners=False) + background


__all__ = ["random_affine"]
