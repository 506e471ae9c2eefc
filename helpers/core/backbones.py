"""The CNN backbones both tasks share: a 1x28x28 MNIST image -> 320 features (the original's CNN and the stronger
ones built here), and the precision each runs best in."""
from __future__ import annotations

from torch import nn


def classic_backbone() -> nn.Sequential:
    """The original's CNN: 1x28x28 -> 20x4x4 = 320 features."""
    return nn.Sequential(
        nn.Conv2d(1, 10, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(10, 20, 5), nn.Dropout2d(0.5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(),
    )


def conv_pool_bn(c_in: int, c_out: int, kernel: int, padding: int = 0) -> list[nn.Module]:
    """Conv, then 2x2 max-pool, then batch norm and ReLU on the 4x smaller map (cheaper than after)."""
    return [nn.Conv2d(c_in, c_out, kernel, padding=padding, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(c_out), nn.ReLU()]


def to_320(c_in: int) -> list[nn.Module]:
    """Flatten and project to 320 features (the original's CNN gives 320: every backbone gives as many)."""
    return [nn.Flatten(), nn.Linear(c_in, 320, bias=False), nn.BatchNorm1d(320), nn.ReLU()]


def bn_backbone(width: int = 16) -> nn.Sequential:
    """The original's two 5x5 stages, wider and batch-normalized, projected to 320 features."""
    return nn.Sequential(*conv_pool_bn(1, width, 5), *conv_pool_bn(width, 2 * width, 5), *to_320(2 * width * 16))


def three_conv_backbone(c1: int, c2: int) -> nn.Sequential:
    """c1 then c2 channels at 28 and 14 px (padded: the border stays), a third conv to 64 channels at 7 px."""
    return nn.Sequential(
        *conv_pool_bn(1, c1, 5, padding=2), *conv_pool_bn(c1, c2, 3, padding=1),  # 28 -> 14 -> 7 px
        nn.Conv2d(c2, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),  # 7 -> 5 px
        *to_320(64 * 25),
    )


def wide_backbone() -> nn.Sequential:
    """Stronger and about 3x slower than "bn" (docs/speed.md): 32 then 64 channels, a third conv."""
    return three_conv_backbone(32, 64)


def mid_backbone() -> nn.Sequential:
    """`wide` with half its channels in the first two convs (16, 32): about 40 % of its multiply-adds."""
    return three_conv_backbone(16, 32)


BACKBONES = {"classic": classic_backbone, "bn": bn_backbone, "mid": mid_backbone, "wide": wide_backbone}
# The precision "auto" means for each (chosen on the validation split, docs/speed.md); the core's `choose_precision`
# falls back to fp32 where the device computes bf16 only by emulation.
DEFAULT_PRECISION = {"classic": "fp32", "bn": "fp32", "mid": "bf16", "wide": "bf16"}


__all__ = ["classic_backbone", "conv_pool_bn", "to_320", "bn_backbone", "three_conv_backbone", "wide_backbone",
           "mid_backbone", "BACKBONES", "DEFAULT_PRECISION"]
