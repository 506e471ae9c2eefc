"""`augment="robust"`: the primary task's corrupted digits and images without a digit, trained towards "don't know".

Every random value is drawn on the CPU from the epoch's seeded generator, in one fixed order (`draw_corruptions`),
and reaches the device through the core's `to_device`, which never makes the host wait.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from ..core import shifts
from ..core.device import to_device


def draw_corruptions(n: int, generator: torch.Generator, clean: float = 0.4, no_digit: float = 0.03) -> dict:
    """Every random value the robust corruptions of a batch of `n` images need, drawn on the CPU in one fixed order
    (every image's draws first, so an image's corruption does not depend on the others'). Per image unless named
    `batch_*`: one value for the whole batch."""
    def rand(*shape):
        return torch.rand(*shape, generator=generator)
    d = {"geometry": rand(n, 4), "shift_angle": rand(n) * 2 * math.pi, "batch_values": rand(3)}
    d["shift"] = rand(n) * 7 * (d["geometry"][:, 2] < 0.5)  # half the images move
    d["box_corner"], d["box_size"] = (rand(n, 2, 1) * 20).long(), 2 + (rand(n, 2, 1) * 8).long()
    d["thinning"], d["contrast"], d["gradient"], d["gradient_angle"] = (rand(n, 1, 1, 1) for _ in range(4))
    d["noise"], d["noise_level"] = torch.randn(n, 1, 28, 28, generator=generator), rand(n, 1, 1, 1)
    d["shear"] = (rand(2, n) * 2 - 1) * 40
    d["shear"] = d["shear"] * (rand(2, n) < 0.5)  # each direction for half the images
    d["line"] = rand(n) < 0.5  # a line instead of a box
    d["line_angle"], d["line_offset"] = rand(n, 1, 1, 1) * math.pi, (rand(n, 1, 1, 1) - 0.5) * 28 / 3
    d["line_width"] = 1 + 3 * rand(n, 1, 1, 1)
    d["choice"] = (rand(n) * len(CORRUPTIONS)).long()
    d["corrupt"] = rand(n) >= clean
    d["unknown"] = rand(n) < no_digit
    d["blank_level"], d["blank_kind"], d["blank_noise"] = rand(n, 1, 1, 1), rand(n, 1, 1, 1), rand(n, 1, 28, 28)
    d["blank_angle"] = rand(n, 1, 1, 1) * 2 * math.pi
    return d


# Each corruption takes the images x (in [0, 1]) that drew it and their draws d (indexed like x).
def geometry(x, d):
    """Rotation up to 50°, scale 0.45-1.1, a shift up to 7 px, a shear up to 40° along x and along y."""
    g = d["geometry"]
    return shifts.affine(x, rotate=(g[:, 0] * 2 - 1) * 50, zoom=0.45 + g[:, 1] * 0.65, shear_x=d["shear"][0],
                         shear_y=d["shear"][1], shift_x=d["shift"] * torch.cos(d["shift_angle"]),
                         shift_y=d["shift"] * torch.sin(d["shift_angle"]))


def stroke_width(x, d):
    """Thinner strokes (a partial erosion) or thicker ones (a dilation of 2-4 px, one size per batch)."""
    return torch.where(d["geometry"][:, 3, None, None, None] < 0.5, shifts.thinner(x, d["thinning"]),
                       shifts.thicker(x, 2 + int(d["batch_values"][0] * 3)))


def blur(x, d):
    return shifts.blur(x, 0.5 + 2 * float(d["batch_values"][1]))  # sigma 0.5-2.5, one per batch


def low_resolution(x, d):
    return shifts.low_resolution(x, 7 + int(d["batch_values"][2] * 10))  # 7-16 px, one per batch


def inverted(x, d):
    return shifts.inverted(x, 0.4 + 0.6 * d["contrast"])  # black ink on a light background


def gradient(x, d):
    return shifts.uneven_background(x, 0.8 * d["gradient"], angles=d["gradient_angle"] * 2 * math.pi)


def noise(x, d):
    return (x + d["noise"] * 0.35 * d["noise_level"]).clamp(0, 1)


def occlusion(x, d):
    """A black line 1-4 px wide or a black box of 2-9 px."""
    line = shifts.line_mask(d["line_angle"], d["line_offset"], d["line_width"])
    return x.masked_fill(torch.where(d["line"][:, None, None, None], line, shifts.box_mask(d["box_corner"], d["box_size"])),
                         0.0)


CORRUPTIONS = (geometry, stroke_width, blur, low_resolution, inverted, gradient, noise, occlusion)
PER_BATCH = ("batch_values",)


class DrawsOf(Mapping):
    """The draws of the images `i`, indexed when a corruption reads them (each reads a few of the ~25), so the
    training step copies no draw it does not use; per-batch values as they are, `shear` by its second axis."""

    def __init__(self, draws: dict, i: torch.Tensor):
        self.draws, self.i = draws, i

    def __getitem__(self, key):
        value = self.draws[key]
        return value if key in PER_BATCH else value[:, self.i] if key == "shear" else value[self.i]

    def __iter__(self):
        return iter(self.draws)

    def __len__(self):
        return len(self.draws)


def robust_augment(images: torch.Tensor, generator: torch.Generator, mean: float, std: float,
                   clean: float = 0.4, no_digit: float = 0.03) -> tuple[torch.Tensor, torch.Tensor]:
    """`augment="robust"`: each image of a normalized batch stays as it is (`clean` of them) or gets one of the
    `CORRUPTIONS` drawn at random, and `no_digit` of them are replaced by an image without a digit (blank, noise, a
    gradient), to be trained towards "don't know" (see `output_loss`). Returns the images and the mask of the
    no-digit ones. Shot and impulse noise and elastic distortion are left out on purpose: the robustness benchmark
    measures them (and printed fonts) as shifts the model was never trained against (docs/robustness.md)."""
    device = images.device
    draws = draw_corruptions(len(images), generator, clean, no_digit)
    chosen = [torch.nonzero(draws["corrupt"] & (draws["choice"] == k))[:, 0] for k in range(len(CORRUPTIONS))]  # CPU
    d = {k: (v if k in PER_BATCH else to_device(v, device).to(images.dtype if v.is_floating_point() else v.dtype))
         for k, v in draws.items()}  # in the images' float (an fp64 run's too)
    x = (images * std + mean).clamp(0, 1)
    out = x.clone()
    for corruption, cpu_index in zip(CORRUPTIONS, chosen):
        if len(cpu_index):
            i = to_device(cpu_index, device)
            out[i] = corruption(x[i], DrawsOf(d, i))
    blank = d["blank_level"] * torch.where(d["blank_kind"] < 0.5, d["blank_noise"],
                                           shifts.uneven_background(torch.zeros_like(x), 1.0, angles=d["blank_angle"]))
    out = torch.where(d["unknown"][:, None, None, None], blank, out)
    return (out - mean) / std, d["unknown"]


__all__ = ["draw_corruptions", "CORRUPTIONS", "robust_augment"]
