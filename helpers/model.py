"""The model: a CNN backbone to 320 features, the number concatenated, 324 -> 128 -> 64 -> 9."""
from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from .encoding import DIGIT_BITS, ENCODINGS, NUMBER_BITS, SUM_BITS, bits_to_int


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
    """Flatten and project to the 320 features the head expects."""
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
    """Stronger and about 3x slower than "bn" (README): 32 then 64 channels, a third conv."""
    return three_conv_backbone(32, 64)


def mid_backbone() -> nn.Sequential:
    """`wide` with half its channels in the first two convs (16, 32): about 40 % of its multiply-adds."""
    return three_conv_backbone(16, 32)


BACKBONES = {"classic": classic_backbone, "bn": bn_backbone, "mid": mid_backbone, "wide": wide_backbone}

# How the number enters the head: the original's 4 bits (the default); "onehot" (10 values) and
# "scalar" (one value, n / 9) exist for the ablation of how addition transfers to unseen pairs.
NUMBER_INPUTS = {"bits": NUMBER_BITS, "onehot": 10, "scalar": 1}


def number_features(number_bits: torch.Tensor, number_input: str) -> torch.Tensor:
    """The sampler's 4 bits in the head's input code."""
    if number_input == "bits":
        return number_bits
    numbers = bits_to_int(number_bits)
    return F.one_hot(numbers, 10).float() if number_input == "onehot" else (numbers.float() / 9).unsqueeze(-1)


# Centring by the ink's centre of mass, as MNIST's digits were centred: the background is a plane fitted to the
# 2-pixel border (so a light, dark or graded background all work), the ink what stands out from it.
_BORDER = torch.zeros(28, 28, dtype=torch.bool)
_BORDER[:2], _BORDER[-2:], _BORDER[:, :2], _BORDER[:, -2:] = True, True, True, True
_Y, _X = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
_PLANE = torch.stack([torch.ones(28, 28), _X / 27 - 0.5, _Y / 27 - 0.5], -1)  # a + b x + c y
_PLANE_FIT = torch.linalg.pinv(_PLANE[_BORDER])  # border pixels -> (a, b, c), least squares


def centre_by_mass(images: torch.Tensor) -> torch.Tensor:
    """Each (N, 1, 28, 28) image moved by whole pixels so that its ink's centre of mass is at the centre.

    Works on normalized images of either polarity: the ink is where the image departs from the plane fitted
    to its border by more than 30 % of its largest departure. Whole pixels: nothing is interpolated, and
    the pixels moved in repeat the border."""
    device, border = images.device, _BORDER.to(images.device)
    pixels = images[:, 0].float()
    plane = torch.einsum("hwk,nk->nhw", _PLANE.to(device), pixels[:, border] @ _PLANE_FIT.to(device).T)
    ink = (pixels - plane).abs()
    ink = (ink - 0.3 * ink.flatten(1).amax(1)[:, None, None]).clamp(min=0)
    mass = ink.sum((1, 2)).clamp(min=1e-6)
    offset = torch.stack([(ink * _X.to(device)).sum((1, 2)), (ink * _Y.to(device)).sum((1, 2))], -1) / mass[:, None]
    theta = torch.eye(2, 3, device=device).repeat(len(images), 1, 1)
    theta[:, :, 2] = (offset - 13.5).round() * 2 / 28  # pixels -> affine_grid's [-1, 1] units
    grid = F.affine_grid(theta, list(images.shape), align_corners=False).to(images.dtype)
    return F.grid_sample(images, grid, mode="nearest", padding_mode="border", align_corners=False)


# ------------------------------------------------------------------------------------------------ heads
# Each head maps the 320 image features and the number's input code to the output logits. "mlp" is the
# original's; "line", "adder" and "symadder" carry an inductive bias for addition (README, docs/addition.md): nothing in
# them computes digit + number, their weights learn it from the data.


class MLPHead(nn.Sequential):
    """The original's head: concatenate features and number (324) -> 128 -> 64 -> outputs."""

    def __init__(self, number_inputs: int, outputs: int):
        super().__init__(nn.Linear(320 + number_inputs, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                         nn.Linear(64, outputs))

    def forward(self, features: torch.Tensor, number: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.cat([features, number], dim=1))


def digit_mlp(outputs: int) -> nn.Sequential:
    """320 image features -> 128 -> 64 -> `outputs`, the original's layer sizes without the number."""
    return nn.Sequential(nn.Linear(320, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, outputs))


class LineHead(nn.Module):
    """A learned number line: the image's value plus the number's value (a learned weighted sum of its 4 bits,
    as a NAC adds), one scalar, decoded to the 5 sum bits by a small MLP; the digit bits from the image."""

    def __init__(self, number_inputs: int = NUMBER_BITS):
        super().__init__()
        self.digit = digit_mlp(DIGIT_BITS + 1)  # the digit's 4 bit logits and its value on the line
        self.number_value = nn.Linear(number_inputs, 1, bias=False)
        self.decode = nn.Sequential(nn.Linear(1, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, SUM_BITS))

    def forward(self, features: torch.Tensor, number: torch.Tensor) -> torch.Tensor:
        digit = self.digit(features)
        value = digit[:, DIGIT_BITS:] + self.number_value(number)
        return torch.cat([digit[:, :DIGIT_BITS], self.decode(value)], dim=1)


class AdderHead(nn.Module):
    """A learned full adder: the digit's 4 bits from the image, then one small cell, shared by every bit position
    (as the Neural GPU shares its rule), reads (digit bit, number bit, carry in) from the least significant bit up
    and gives a sum bit's logit and the carry out; the last carry is the sum's top bit. Nothing here adds: the cell
    learns its truth table from the sum bits of the pairs trained on.

    `symmetric`: the cell answers the same for its three inputs in any order (its outputs averaged over the 6
    orderings), as a full adder does; then pairs that show it (1, 0, 1) also teach it (0, 1, 1) and (1, 1, 0)."""

    def __init__(self, hidden: int = 16, symmetric: bool = False):
        super().__init__()
        self.symmetric = symmetric
        if symmetric:  # the 6 orderings of the cell's 3 inputs
            self.register_buffer("orderings", torch.tensor(list(itertools.permutations(range(3)))), persistent=False)
        self.digit = digit_mlp(DIGIT_BITS)
        self.cell = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                  nn.Linear(hidden, 2))

    def step(self, inputs: torch.Tensor) -> torch.Tensor:
        """(batch, 3) cell inputs (digit bit, number bit, carry in) -> (batch, 2) logits (sum bit, carry out)."""
        if not self.symmetric:
            return self.cell(inputs)
        return self.cell(inputs[:, self.orderings]).mean(dim=1)  # (batch, 6 orderings, 3) -> (batch, 6, 2) -> mean

    def forward(self, features: torch.Tensor, number: torch.Tensor) -> torch.Tensor:
        digit_logits = self.digit(features)
        # The cell reads the digit's bits as a value: the sum bits train the cell, the digit bits the perception
        # (without the detach, the sum's loss bent the digit towards the pairs trained on: docs/addition.md).
        digit_bits = digit_logits.detach().sigmoid()
        carry, sum_logits = torch.zeros_like(digit_bits[:, :1]), []
        for i in reversed(range(DIGIT_BITS)):  # bits are most significant first: start at the last
            out = self.step(torch.cat([digit_bits[:, i:i + 1], number[:, i:i + 1], carry], dim=1))
            sum_logits.insert(0, out[:, :1])
            carry = out[:, 1:].sigmoid()
        return torch.cat([digit_logits, out[:, 1:], *sum_logits], dim=1)


class SymmetricAdderHead(AdderHead):
    """The adder with a symmetric cell (`AdderHead(symmetric=True)`): the head that learns addition (docs/addition.md)."""

    def __init__(self, hidden: int = 16):
        super().__init__(hidden, symmetric=True)


HEADS = {"mlp": MLPHead, "line": LineHead, "adder": AdderHead, "symadder": SymmetricAdderHead}


def check_model_choices(backbone: str, encoding: str, number_input: str, head: str) -> None:
    """Raise ValueError, naming the choices, unless the four name a network that exists (`Net` and `Config` both ask)."""
    for name, value, choices in (("backbone", backbone, BACKBONES), ("head", head, HEADS), ("encoding", encoding, ENCODINGS),
                                 ("number_input", number_input, NUMBER_INPUTS)):
        if value not in choices:
            raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    if head != "mlp" and (encoding, number_input) != ("binary", "bits"):
        raise ValueError(f"head {head!r} reads the number's 4 bits and writes the 9-bit code: it needs "
                         f"encoding='binary' and number_input='bits', got {encoding!r} and {number_input!r}")


class Net(nn.Module):
    """Image -> backbone -> 320 features; with the 4 number bits -> head -> 9 logits.

    `head` "mlp" is the original's 324 -> 128 -> 64 -> 9; "line", "adder", "symadder" learn addition with more
    structure (`HEADS`; binary code and number bits only).
    `encoding` other than "binary" (ablation only) widens the last layer to 29 outputs;
    `number_input` other than "bits" (ablation only) changes the 4 number inputs to 10 or 1;
    `centre_input` centres each image by its ink's centre of mass first (`centre_by_mass`).
    """

    def __init__(self, backbone: str = "bn", encoding: str = "binary", channels_last: bool = True,
                 number_input: str = "bits", centre_input: bool = False, head: str = "mlp"):
        super().__init__()
        check_model_choices(backbone, encoding, number_input, head)
        self.backbone_name, self.encoding, self.number_input = backbone, encoding, number_input
        self.centre_input, self.head_name = centre_input, head
        self.backbone = BACKBONES[backbone]()
        self.head = (MLPHead(NUMBER_INPUTS[number_input], ENCODINGS[encoding]) if head == "mlp" else HEADS[head]())
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.to(memory_format=self.memory_format)  # channels-last: about 1.5x faster on the CPU (profile.py)

    def forward(self, images: torch.Tensor, number_bits: torch.Tensor) -> torch.Tensor:
        if self.centre_input:
            images = centre_by_mass(images)
        features = self.backbone(images.contiguous(memory_format=self.memory_format))
        return self.head(features, number_features(number_bits, self.number_input))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["classic_backbone", "conv_pool_bn", "to_320", "bn_backbone", "three_conv_backbone", "wide_backbone",
           "mid_backbone", "BACKBONES", "NUMBER_INPUTS", "number_features", "centre_by_mass", "MLPHead", "digit_mlp",
           "LineHead", "AdderHead", "SymmetricAdderHead", "HEADS", "check_model_choices", "Net", "count_parameters"]
