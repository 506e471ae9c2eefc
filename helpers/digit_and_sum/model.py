"""The model: a CNN backbone (the core's) turns the image into 320 features; a head maps them and the number's 4 bits
to the output logits (the original's MLP head, or one of the heads built for addition)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pathlib import Path

from ..core.backbones import BACKBONES
from ..core.checkpoints import read_checkpoint, save_checkpoint
from ..core.device import at_least_fp32, resolve_device
from .encoding import ENCODINGS, NUMBER_BITS, bits_to_int
from .heads import HEADS

# How the number enters the head: the original's 4 bits (the default); "onehot" (10 values) and
# "scalar" (one value, n / 9) exist for the ablation of how addition transfers to unseen pairs.
NUMBER_INPUTS = {"bits": NUMBER_BITS, "onehot": 10, "scalar": 1}


def number_features(number_bits: torch.Tensor, number_input: str) -> torch.Tensor:
    """The sampler's 4 bits in the head's input code."""
    if number_input == "bits":
        return number_bits
    numbers = bits_to_int(number_bits)
    return F.one_hot(numbers, 10).float() if number_input == "onehot" else (numbers.float() / 9).unsqueeze(-1)


def centre_of_mass(weights: torch.Tensor) -> torch.Tensor:
    """(..., H, W) non-negative weights (ink) -> (..., 2): the (x, y) pixel coordinates of their centre of mass."""
    ys = torch.arange(weights.shape[-2], dtype=weights.dtype, device=weights.device)[:, None]
    xs = torch.arange(weights.shape[-1], dtype=weights.dtype, device=weights.device)
    mass = weights.sum((-2, -1)).clamp(min=1e-6)
    return torch.stack([(weights * xs).sum((-2, -1)), (weights * ys).sum((-2, -1))], -1) / mass[..., None]


class CentreByMass(nn.Module):
    """Each (N, 1, 28, 28) image moved by whole pixels so that its ink's centre of mass is at the centre, as MNIST's
    digits were centred.

    Works on normalized images of either polarity and on any background: the background is a plane fitted to the
    2-pixel border (a light, dark or graded one), the ink is where the image departs from it by more than 30 % of its
    largest departure. Whole pixels: nothing is interpolated, and the pixels moved in repeat the border. Its constants
    are buffers, so they move with the model once; nothing in the forward pass makes the host wait."""

    def __init__(self):
        super().__init__()
        border = torch.zeros(28, 28, dtype=torch.bool)
        border[:2], border[-2:], border[:, :2], border[:, -2:] = True, True, True, True
        y, x = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
        plane = torch.stack([torch.ones(28, 28), x / 27 - 0.5, y / 27 - 0.5], -1)  # a + b x + c y
        self.register_buffer("border", torch.nonzero(border.flatten())[:, 0], persistent=False)  # indices, not a mask
        self.register_buffer("plane", plane, persistent=False)
        self.register_buffer("plane_fit", torch.linalg.pinv(plane[border]), persistent=False)  # border -> (a, b, c)
        self.register_buffer("identity", torch.eye(2), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pixels = at_least_fp32(images[:, 0])
        coefficients = pixels.flatten(1)[:, self.border] @ self.plane_fit.T
        ink = (pixels - torch.einsum("hwk,nk->nhw", self.plane, coefficients)).abs()
        ink = (ink - 0.3 * ink.flatten(1).amax(1)[:, None, None]).clamp(min=0)
        offset = (centre_of_mass(ink) - 13.5).round() * 2 / 28  # pixels -> affine_grid's [-1, 1] units
        theta = torch.cat([self.identity.expand(len(images), 2, 2), offset[:, :, None]], 2)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False).to(images.dtype)
        return F.grid_sample(images, grid, mode="nearest", padding_mode="border", align_corners=False)


def check_model_choices(backbone: str, encoding: str, number_input: str, head: str) -> None:
    """Raise ValueError, naming the choices, unless the four name a network that exists (`Net` and `Config` both ask)."""
    for name, value, choices in (("backbone", backbone, BACKBONES), ("head", head, HEADS), ("encoding", encoding, ENCODINGS),
                                 ("number_input", number_input, NUMBER_INPUTS)):
        if value not in choices:
            raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    if head != "mlp" and (encoding, number_input) != ("binary", "bits"):
        raise ValueError(f"head {head!r} reads the number's 4 bits and writes the 9-bit code: it needs "
                         f"encoding='binary' and number_input='bits', got {encoding!r} and {number_input!r}")


MODEL_SETTINGS = ("backbone", "head", "encoding", "number_input", "centre_input")  # the Config fields a Net is built from


class Net(nn.Module):
    """Image -> backbone -> 320 features; with the number's input code -> head -> output logits.

    `backbone`: `BACKBONES`; `head`: `HEADS` ("mlp", the original's 324 -> 128 -> 64 -> 9, or a head built for
    addition: binary code and number bits only); `encoding` other than "binary" (ablation only) widens the last layer
    to 29 outputs; `number_input` other than "bits" (ablation only) makes the 4 number inputs 10 or 1;
    `centre_input`: each image is first centred by its ink's centre of mass (`CentreByMass`). `Net.from_config(config)`
    builds the network a run's settings name, as `fit` does.
    """

    def __init__(self, *, backbone: str = "bn", head: str = "mlp", encoding: str = "binary", number_input: str = "bits",
                 centre_input: bool = False, channels_last: bool = True):
        super().__init__()
        check_model_choices(backbone, encoding, number_input, head)
        self.backbone_name, self.head_name, self.encoding, self.number_input = backbone, head, encoding, number_input
        self.centre_input = centre_input
        self.centre = CentreByMass() if centre_input else None
        self.backbone = BACKBONES[backbone]()
        self.head = HEADS[head](NUMBER_INPUTS[number_input], ENCODINGS[encoding])
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.to(memory_format=self.memory_format)  # channels-last: about 1.5x faster on the CPU (profile_step.py)

    @classmethod
    def from_config(cls, config, channels_last: bool = True) -> "Net":
        """The network of a run's settings (`runs.Config`, or anything with the fields of `MODEL_SETTINGS`)."""
        return cls(**{name: getattr(config, name) for name in MODEL_SETTINGS}, channels_last=channels_last)

    def settings(self) -> dict:
        """The `MODEL_SETTINGS` this network was built with (what a checkpoint records to rebuild it)."""
        return {"backbone": self.backbone_name, "head": self.head_name, "encoding": self.encoding,
                "number_input": self.number_input, "centre_input": self.centre_input}

    def forward(self, images: torch.Tensor, number_bits: torch.Tensor) -> torch.Tensor:
        if self.centre is not None:
            images = self.centre(images)
        features = self.backbone(images.contiguous(memory_format=self.memory_format))
        numbers = number_features(number_bits, self.number_input)  # in the features' float, if wider (an fp64 run's)
        return self.head(features, numbers.to(torch.promote_types(numbers.dtype, features.dtype)))

    def count_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


# ------------------------------------------------------------------------------------------ checkpoints

CHECKPOINT_FORMAT = "neural-network-on-steroids/1"


def load_checkpoint(path, device="cpu") -> Net:
    """The trained model of a checkpoint (`train.fit`'s model.pt, or an exported one), in eval mode, with its
    normalization (`mean`, `std`), on `device`. A checkpoint trained on any device and in any precision loads here:
    weights are kept in fp32 and read onto the CPU first, safely (`read_checkpoint`: it can never run code)."""
    state = read_checkpoint(path, CHECKPOINT_FORMAT)
    model = Net(**{k: state[k] for k in MODEL_SETTINGS if k in state})  # older ones lack some: Net's defaults, which they used
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise ValueError(f"{path} does not match the {state['backbone']!r} network: "
                         f"{str(error).splitlines()[0]}") from None
    model.mean, model.std = state["mean"], state["std"]
    return model.to(resolve_device(device)).eval()


def export_model(checkpoint, path) -> Path:
    """Write the weights and normalization of a training checkpoint, without optimizer state (small), to `path`
    (relative to the working directory)."""
    state = read_checkpoint(checkpoint, CHECKPOINT_FORMAT)
    state.update(optimizer=None, scheduler=None, train_log=[])
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, state.pop("format"), state.pop("task"), state.pop("model"), **state)
    return path


__all__ = ["NUMBER_INPUTS", "number_features", "centre_of_mass", "CentreByMass", "check_model_choices", "MODEL_SETTINGS",
           "Net", "CHECKPOINT_FORMAT", "load_checkpoint", "export_model"]
