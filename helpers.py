"""Reusable code for the Neural Network on Steroids notebook.

In the order the notebook uses it: data -> sampler -> encoding -> model -> train and evaluate
-> checkpoints and metrics -> predict on user input. Figures live in `figures.py`; the command
line for prediction is `predict.py`, the speed comparison `benchmark.py`.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import shifts

ROOT = Path(__file__).resolve().parent

# --------------------------------------------------------------------------------------- device

def available_devices() -> list[str]:
    """What this machine can train on: "cpu" and each usable accelerator, e.g. ["cpu", "cuda:0"]."""
    devices = ["cpu"]
    if torch.accelerator.is_available():  # current_accelerator() alone names "cuda" even where none is usable
        kind = torch.accelerator.current_accelerator().type
        devices += [f"{kind}:{i}" for i in range(torch.accelerator.device_count())]
    return devices


def resolve_device(device="auto") -> torch.device:
    """"auto": the current accelerator (CUDA, MPS, XPU, ...) when one is usable, else the CPU.

    An explicit name ("cpu", "cuda", "cuda:1", "mps") is honoured if it is usable here; anything
    else fails at once with a message that names what is available.
    """
    if device == "auto":
        return torch.device(torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu")
    available = available_devices()
    try:
        if not isinstance(device, (str, torch.device)):
            raise TypeError
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto' or a device name like 'cpu', 'cuda' or 'cuda:1', got {device!r}; "
                         f"available here: {', '.join(available)}") from None
    usable = resolved.type == "cpu" or f"{resolved.type}:{resolved.index or 0}" in available
    if not usable:
        raise ValueError(f"device {str(device)!r} is not available on this machine; "
                         f"available here: {', '.join(available)} (or 'auto')")
    return resolved


def device_name(device: torch.device) -> str:
    """A person's name for the device: the GPU's model, or the CPU's."""
    if device.type == "cpu":
        models = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")] if Path("/proc/cpuinfo").exists() else []
        return models[0] if models else (platform.processor() or platform.machine())
    module = getattr(torch, device.type, None)
    return module.get_device_name(device) if hasattr(module, "get_device_name") else device.type


def model_device(model: nn.Module) -> torch.device:
    """Where a model's weights live (the CPU for a model without any)."""
    return next(model.parameters(), torch.empty(0)).device


def synchronize(device: torch.device) -> None:
    """Wait for the accelerator's queued work, so a clock read after it measures the work itself."""
    if device.type != "cpu":
        torch.accelerator.synchronize(device)


# "bf16" runs the forward pass under bfloat16 autocast (the loss in fp32). "auto" takes the backbone's
# default below, chosen on the validation split (README), where the device computes bf16 natively, else fp32.
PRECISIONS = ("fp32", "bf16")
DEFAULT_PRECISION = {"classic": "fp32", "bn": "fp32", "wide": "bf16"}


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (x86 AVX512-BF16 or AMX, Arm BF16); without it, CPU
    autocast to bf16 is emulated and slower than fp32."""
    info = Path("/proc/cpuinfo")
    flags = set(info.read_text().split()) if info.exists() else set()
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def bf16_supported(device: torch.device, native: bool = False) -> bool:
    """Whether autocast to bf16 works on `device` (`native`: and runs at hardware speed)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=not native)
    if device.type == "cpu":
        return not native or cpu_has_native_bf16()
    return True  # MPS and XPU compute bfloat16


def resolve_precision(precision: str, backbone: str, device: torch.device) -> str:
    """"auto" -> the backbone's default where the device has native bf16, else fp32; "fp32" / "bf16" as
    asked, if the device can run it at all."""
    if precision == "auto":
        precision = DEFAULT_PRECISION.get(backbone, "fp32")
        return precision if precision == "fp32" or bf16_supported(device, native=True) else "fp32"
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be 'auto', 'fp32' or 'bf16', got {precision!r}")
    if precision == "bf16" and not bf16_supported(device):
        raise ValueError(f"precision 'bf16' is not supported on {device} ({device_name(device)}); use 'fp32'")
    return precision


def autocast(device: torch.device, precision: str):
    """The forward pass's precision: bfloat16 autocast for "bf16", a no-op for "fp32"."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")

# ----------------------------------------------------------------------------------------- data

# The four files torchvision keeps under <root>/MNIST/raw, with their sizes and published MD5s.
MNIST_FILES = {
    "train-images-idx3-ubyte": (47_040_016, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (60_008, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (7_840_016, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (10_008, "27ae3e4e09519cfbb04c329615203637"),
}


class MNISTDataError(RuntimeError):
    """The MNIST files are missing, truncated or corrupt."""


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The MNIST root: `data_dir`, else $MNIST_DATA_DIR, else `data/` in the repo."""
    return Path(data_dir or os.environ.get("MNIST_DATA_DIR") or ROOT / "data").expanduser().resolve()


def check_mnist_files(raw: Path) -> None:
    """Raise MNISTDataError unless all four files in `raw` have MNIST's exact size and MD5."""
    missing = [name for name in MNIST_FILES if not (raw / name).is_file()]
    if missing:
        raise MNISTDataError(
            f"MNIST not found in {raw}: missing {', '.join(missing)}. "
            f"It needs the four uncompressed files {', '.join(MNIST_FILES)}. "
            "Set MNIST_DATA_DIR to the folder that holds MNIST/raw/, or run once with internet "
            "so torchvision can download them."
        )
    for name, (size, md5) in MNIST_FILES.items():
        path = raw / name
        if path.stat().st_size != size:
            raise MNISTDataError(
                f"{path} is truncated or corrupt: {path.stat().st_size:,} bytes, expected {size:,}. "
                "Delete it to download it again, or point MNIST_DATA_DIR at a good copy."
            )
        if hashlib.md5(path.read_bytes()).hexdigest() != md5:
            raise MNISTDataError(
                f"{path} is corrupt: its MD5 is not MNIST's {md5}. "
                "Delete it to download it again, or point MNIST_DATA_DIR at a good copy."
            )


def load_mnist(data_dir=None, download: bool = True) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Both splits as uint8 images (N, 28, 28) and int64 labels, read once by torchvision.

    Downloads the files into `data_root(data_dir)` when they are missing and `download` is set.
    """
    root = data_root(data_dir)
    raw = root / "MNIST" / "raw"
    if download and not all((raw / name).is_file() for name in MNIST_FILES):
        try:
            for train in (True, False):
                torchvision.datasets.MNIST(root, train=train, download=True)
        except Exception as error:  # no internet, a proxy, a full disk: say where we looked
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise MNISTDataError(
                f"MNIST not found in {raw} and the download failed ({first_line}). "
                f"It needs the four uncompressed files {', '.join(MNIST_FILES)}. "
                "Set MNIST_DATA_DIR to the folder that holds MNIST/raw/."
            ) from None
    check_mnist_files(raw)
    splits = {}
    for split, train in (("train", True), ("test", False)):
        dataset = torchvision.datasets.MNIST(root, train=train, download=False)
        splits[split] = (dataset.data, dataset.targets)
    return splits


def normalization(images: torch.Tensor) -> tuple[float, float]:
    """Mean and std of uint8 images on the [0, 1] scale (MNIST train: about 0.1307 and 0.3081)."""
    pixels = images.double().div(255)
    return pixels.mean().item(), pixels.std().item()


def normalize(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28), standardized."""
    return (images.float().div(255).sub(mean).div(std)).unsqueeze(1)


@dataclass
class MNISTData:
    """Normalized images and labels as tensors; `eval_*` is the test set or a validation split."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    eval_x: torch.Tensor
    eval_y: torch.Tensor
    eval_images: torch.Tensor  # the same eval images as uint8, for figures
    mean: float
    std: float
    eval_name: str  # "test" or "validation"

    def to(self, device) -> "MNISTData":
        """The same data with the training and evaluation tensors on `device` (moved once, not per batch)."""
        moved = {k: getattr(self, k).to(device) for k in ("train_x", "train_y", "eval_x", "eval_y")}
        return replace(self, **moved)


def prepare_data(data_dir=None, val_size: int = 0, train_size: int | None = None, download: bool = True) -> MNISTData:
    """Load MNIST once into normalized tensors.

    `val_size` > 0 carves a fixed validation split from the training set and evaluates on it
    instead of the test set (for tuning). `train_size` keeps only the first images (smoke runs).
    Mean and std come from the training images actually used.
    """
    splits = load_mnist(data_dir, download)
    train_images, train_labels = splits["train"]
    if not 0 <= val_size < len(train_images):
        raise ValueError(f"val_size must be in 0..{len(train_images) - 1}, got {val_size}")
    if val_size:
        order = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(0))
        keep, held = order[:-val_size], order[-val_size:]
        eval_images, eval_labels = train_images[held], train_labels[held]
        train_images, train_labels = train_images[keep], train_labels[keep]
    else:
        eval_images, eval_labels = splits["test"]
    if train_size is not None:
        if not 0 < train_size <= len(train_images):
            raise ValueError(f"train_size must be in 1..{len(train_images)}, got {train_size}")
        train_images, train_labels = train_images[:train_size], train_labels[:train_size]
    mean, std = normalization(train_images)
    return MNISTData(
        normalize(train_images, mean, std), train_labels,
        normalize(eval_images, mean, std), eval_labels, eval_images,
        mean, std, "validation" if val_size else "test",
    )


# -------------------------------------------------------------------------------------- sampler

class RandomSampler:
    """Random integers 0..9 for MNIST batches, as 4 float bits (most significant first).

    Each call to `getRandomBatch()` gives exactly one batch: `batch_size` rows, and at the end of
    an epoch the last partial batch (`dataset_size % batch_size` rows), then it starts over.
    The integers come from the sampler's own seeded generator; `bits_to_int` recovers them.
    """

    def __init__(self, batch_size: int, seed: int = 0, dataset_size: int = 60_000):
        for name, value in (("batch_size", batch_size), ("dataset_size", dataset_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.batch_size, self.dataset_size = batch_size, dataset_size
        self.generator = torch.Generator().manual_seed(seed)
        self.position = 0  # index of the first image of the next batch

    def __len__(self) -> int:
        """Batches per epoch."""
        return math.ceil(self.dataset_size / self.batch_size)

    def getRandomBatch(self) -> torch.Tensor:
        n = min(self.batch_size, self.dataset_size - self.position)
        self.position = (self.position + n) % self.dataset_size
        return int_to_bits(torch.randint(0, 10, (n,), generator=self.generator), NUMBER_BITS)


# ------------------------------------------------------------------------------------- encoding

NUMBER_BITS, DIGIT_BITS, SUM_BITS = 4, 4, 5  # 9 output bits: digit (0..9), then sum (0..18)


def int_to_bits(values: torch.Tensor, width: int) -> torch.Tensor:
    """Integers -> float bits, most significant first: 5 with width 4 -> [0, 1, 0, 1]."""
    values = torch.as_tensor(values)
    if values.dtype.is_floating_point or values.dtype == torch.bool:
        raise TypeError(f"int_to_bits needs an integer tensor, got {values.dtype}")
    if values.numel() and (values.min() < 0 or values.max() >= 2**width):
        raise ValueError(f"values must be in 0..{2**width - 1} to fit {width} bits")
    shifts = torch.arange(width - 1, -1, -1, device=values.device)
    return ((values.unsqueeze(-1) >> shifts) & 1).float()


def bits_to_int(bits: torch.Tensor) -> torch.Tensor:
    """Bits (or probabilities, thresholded at 0.5), most significant first -> int64."""
    weights = 2 ** torch.arange(bits.shape[-1] - 1, -1, -1, device=bits.device)
    return ((bits > 0.5).long() * weights).sum(-1)


def encode_targets(digits: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
    """(digit, number) -> 9 target bits: 4 for the digit, 5 for digit + number."""
    return torch.cat([int_to_bits(digits, DIGIT_BITS), int_to_bits(digits + numbers, SUM_BITS)], -1)


def decode_logits(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """9 logits -> (digit code 0..15, sum code 0..31); codes above 9 and 18 are invalid."""
    bits = (logits > 0).float()
    return bits_to_int(bits[..., :DIGIT_BITS]), bits_to_int(bits[..., DIGIT_BITS:])


def invalid_codes(digits: torch.Tensor, sums: torch.Tensor) -> torch.Tensor:
    """Where a decoded answer is no answer at all: a digit above 9 or a sum above 18."""
    return (digits > 9) | (sums > 18)


# Output encodings and their number of outputs. "binary" is the original's 9 bits and the default;
# the others exist for the ablation: "onehot" (10 digit + 19 sum outputs, BCE) and "softmax"
# (the same 29 outputs as two softmax heads with cross-entropy).
ENCODINGS = {"binary": DIGIT_BITS + SUM_BITS, "onehot": 10 + 19, "softmax": 10 + 19}


def output_loss(encoding: str, logits: torch.Tensor, digits: torch.Tensor, numbers: torch.Tensor,
                unknown: torch.Tensor | None = None) -> torch.Tensor:
    """The training loss of an encoding for the true digits and numbers.

    `unknown` marks images without a digit (`robust_augment`): their target is "don't know", every
    output bit at 0.5 (softmax: the uniform distribution), so that no answer is confident on them.
    """
    sums = digits + numbers
    if encoding == "softmax":
        targets = [F.one_hot(digits, 10).float(), F.one_hot(sums, 19).float()]
        if unknown is not None:
            targets = [torch.where(unknown[:, None], 1 / t.shape[1], t) for t in targets]
        return F.cross_entropy(logits[:, :10], targets[0]) + F.cross_entropy(logits[:, 10:], targets[1])
    targets = (encode_targets(digits, numbers) if encoding == "binary"
               else torch.cat([F.one_hot(digits, 10), F.one_hot(sums, 19)], -1).float())
    if unknown is not None:
        targets = torch.where(unknown[:, None], 0.5, targets)
    return F.binary_cross_entropy_with_logits(logits, targets)


def decode_outputs(encoding: str, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits -> (digit, sum); an invalid code comes out above 9 (digit) or 18 (sum).

    One-hot outputs are valid only with exactly one output above 0 in a group; softmax heads
    always name a class.
    """
    if encoding == "binary":
        return decode_logits(logits)
    if encoding == "softmax":
        return logits[:, :10].argmax(-1), logits[:, 10:].argmax(-1)

    def one_hot_code(group, invalid):
        on = group > 0
        return torch.where(on.sum(-1) == 1, on.long().argmax(-1), torch.full_like(on[:, 0], invalid, dtype=torch.long))
    return one_hot_code(logits[:, :10], 15), one_hot_code(logits[:, 10:], 31)


# ---------------------------------------------------------------------------------------- model

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


def wide_backbone() -> nn.Sequential:
    """Stronger and about 3x slower than "bn" (README): 32 then 64 channels at 28 and 14 px, a third conv at 7 px."""
    return nn.Sequential(
        *conv_pool_bn(1, 32, 5, padding=2), *conv_pool_bn(32, 64, 3, padding=1),  # 28 -> 14 -> 7 px
        nn.Conv2d(64, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),  # 7 -> 5 px
        *to_320(64 * 25),
    )


BACKBONES = {"classic": classic_backbone, "bn": bn_backbone, "wide": wide_backbone}

# How the number enters the head: the original's 4 bits (the default); "onehot" (10 values) and
# "scalar" (one value, n / 9) exist for the ablation of how addition transfers to unseen pairs.
NUMBER_INPUTS = {"bits": NUMBER_BITS, "onehot": 10, "scalar": 1}


def number_features(number_bits: torch.Tensor, number_input: str) -> torch.Tensor:
    """The sampler's 4 bits in the head's input code."""
    if number_input == "bits":
        return number_bits
    numbers = bits_to_int(number_bits)
    return F.one_hot(numbers, 10).float() if number_input == "onehot" else (numbers.float() / 9).unsqueeze(-1)


class Net(nn.Module):
    """Image -> backbone -> 320 features; concat the 4 number bits -> 324 -> 128 -> 64 -> 9 logits.

    `encoding` other than "binary" (ablation only) widens the last layer to 29 outputs;
    `number_input` other than "bits" (ablation only) changes the 4 number inputs to 10 or 1.
    """

    def __init__(self, backbone: str = "bn", encoding: str = "binary", channels_last: bool = True,
                 number_input: str = "bits"):
        super().__init__()
        for name, value, choices in (("backbone", backbone, BACKBONES), ("encoding", encoding, ENCODINGS),
                                     ("number_input", number_input, NUMBER_INPUTS)):
            if value not in choices:
                raise ValueError(f"unknown {name} {value!r}; choose one of {sorted(choices)}")
        self.backbone_name, self.encoding, self.number_input = backbone, encoding, number_input
        self.backbone = BACKBONES[backbone]()
        self.head = nn.Sequential(
            nn.Linear(320 + NUMBER_INPUTS[number_input], 128), nn.ReLU(),
            nn.Linear(128, 64), nn.ReLU(),
            nn.Linear(64, ENCODINGS[encoding]),
        )
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.to(memory_format=self.memory_format)  # channels-last: about 1.5x faster on the CPU (profile.py)

    def forward(self, images: torch.Tensor, number_bits: torch.Tensor) -> torch.Tensor:
        features = self.backbone(images.contiguous(memory_format=self.memory_format))
        return self.head(torch.cat([features, number_features(number_bits, self.number_input)], dim=1))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------- train and evaluate

EVAL_NUMBERS_SEED = 2024  # every run pairs the evaluation images with the same numbers


def eval_numbers(n: int) -> torch.Tensor:
    """The fixed number (0..9) paired with each of `n` evaluation images, the same in every run."""
    return bits_to_int(RandomSampler(n, seed=EVAL_NUMBERS_SEED, dataset_size=n).getRandomBatch())


def random_affine(images: torch.Tensor, generator: torch.Generator, background: float,
                  degrees: float = 10.0, shift: float = 2.0, scale: float = 0.1) -> torch.Tensor:
    """Rotate, scale and shift each image of a normalized batch at random, filling with `background`."""
    u = (torch.rand(len(images), 4, generator=generator) * 2 - 1).to(images.device)  # drawn on the CPU: same on every device
    angle, zoom = u[:, 0] * math.radians(degrees), 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    offsets = u[:, 2:] * shift * 2 / images.shape[-1]  # pixels -> affine_grid's [-1, 1] units
    theta = torch.stack([torch.stack([cos, -sin, offsets[:, 0]], 1), torch.stack([sin, cos, offsets[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images - background, grid, align_corners=False) + background


def robust_augment(images: torch.Tensor, generator: torch.Generator, mean: float, std: float,
                   clean: float = 0.4, no_digit: float = 0.03) -> tuple[torch.Tensor, torch.Tensor]:
    """`augment="robust"`: each image of a normalized batch stays as it is (`clean` of them) or gets one
    corruption drawn at random, and `no_digit` of them are replaced by an image without a digit (blank,
    noise, a gradient), to be trained towards "don't know" (see `output_loss`). Returns the images and the
    mask of the no-digit ones.

    The corruptions: rotation up to 50°, scale 0.45-1.1 and a shift up to 7 px; thinner or thicker strokes;
    Gaussian blur (sigma 0.5-2.5) or a resolution of 7-16 px (one value per batch); black ink on a light
    background; a brightness gradient; Gaussian noise; a black box of 2-9 px. Shear, shot and impulse noise,
    elastic distortion and occluding lines are left out on purpose: the robustness benchmark measures them
    as shifts the model was never trained against (README, "Digits from outside MNIST").
    """
    n, device = len(images), images.device
    rand = lambda *shape: torch.rand(*shape, generator=generator).to(device)  # drawn on the CPU, as everywhere
    x = (images * std + mean).clamp(0, 1)
    r, angle, per_batch = rand(n, 4), rand(n) * 2 * math.pi, torch.rand(3, generator=generator).tolist()
    distance = rand(n) * 7 * (r[:, 2] < 0.5)
    corners, sizes = (rand(n, 2, 1) * 20).long(), 2 + (rand(n, 2, 1) * 8).long()
    pixels = torch.arange(28, device=device)
    inside = (pixels >= corners) & (pixels < corners + sizes)  # (N, 2, 28): rows, columns
    box = (inside[:, 0, :, None] & inside[:, 1, None, :])[:, None]
    corrupted = torch.stack([
        shifts.affine(x, rotate=(r[:, 0] * 2 - 1) * 50, zoom=0.45 + r[:, 1] * 0.65,
                      shift_x=distance * torch.cos(angle), shift_y=distance * torch.sin(angle)),
        torch.where(r[:, 3, None, None, None] < 0.5, shifts.thinner(x, rand(n, 1, 1, 1), generator),
                    shifts.thicker(x, 2 + int(per_batch[0] * 3), generator)),
        shifts.blur(x, 0.5 + 2 * per_batch[1], generator),
        shifts.low_resolution(x, 7 + int(per_batch[2] * 10), generator),
        shifts.inverted(x, 0.4 + 0.6 * rand(n, 1, 1, 1), generator),
        shifts.uneven_background(x, 0.8 * rand(n, 1, 1, 1), generator),
        (x + torch.randn(x.shape, generator=generator).to(device) * 0.35 * rand(n, 1, 1, 1)).clamp(0, 1),
        x.masked_fill(box, 0.0),
    ])
    choice = (rand(n) * len(corrupted)).long()
    x = torch.where((rand(n) < clean)[:, None, None, None], x, corrupted[choice, torch.arange(n, device=device)])
    unknown = rand(n) < no_digit
    blank = rand(n, 1, 1, 1) * torch.where(rand(n, 1, 1, 1) < 0.5, torch.rand(x.shape, generator=generator).to(device),
                                           shifts.uneven_background(torch.zeros_like(x), 1.0, generator))
    x = torch.where(unknown[:, None, None, None], blank, x)
    return (x - mean) / std, unknown


FIXED_HOLDOUT = "3d+7"  # the 10 pairs (d, 3d + 7 mod 10): one per digit and per number (issue 4's runs)
MAX_HOLDOUT = 81  # 100 pairs less one per sum 0..18: what must stay for every sum to be trained on


def held_out_pairs(holdout, seed: int) -> torch.Tensor:
    """A 10x10 mask [digit, number] of the pairs a run never trains on.

    `holdout` = k holds out k of the 100 pairs, drawn by a generator seeded with the run's seed so
    that every digit, every number and every sum 0..18 still occurs in training: first one pair per
    sum that together cover all digits and numbers is kept (drawn at random until they do; (0, 0)
    and (9, 9), the only pairs for sums 0 and 18, are always among them), then k of the other 81
    are drawn. `FIXED_HOLDOUT` gives the fixed pairs (d, 3d + 7 mod 10); 0 holds out nothing.
    """
    held = torch.zeros(10, 10, dtype=torch.bool)
    if holdout == FIXED_HOLDOUT:
        held[torch.arange(10), (3 * torch.arange(10) + 7) % 10] = True
        return held
    generator = torch.Generator().manual_seed(seed)
    sums = torch.arange(19)
    low, high = (sums - 9).clamp(min=0), sums.clamp(max=9)  # the digits that can reach each sum
    while True:
        digits = low + (torch.rand(19, generator=generator) * (high - low + 1)).long()
        if len(set(digits.tolist())) == 10 and len(set((sums - digits).tolist())) == 10:
            break
    kept = torch.zeros(10, 10, dtype=torch.bool)
    kept[digits, sums - digits] = True
    others = torch.nonzero(~kept)
    chosen = others[torch.randperm(len(others), generator=generator)[:holdout]]
    held[chosen[:, 0], chosen[:, 1]] = True
    return held


def allowed_numbers(numbers: torch.Tensor, digits: torch.Tensor, held: torch.Tensor) -> torch.Tensor:
    """Each number, or where (digit, number) is held out the next number that is not (every digit has one)."""
    for _ in range(9):  # a fixed count: no host sync to ask whether any is left
        numbers = torch.where(held[digits, numbers], (numbers + 1) % 10, numbers)
    return numbers


def epoch_seed(seed: int, epoch: int) -> int:
    """Each epoch draws all its randomness from its own seed, so a resumed run repeats exactly."""
    return seed * 1_000 + epoch


def train_epoch(model, data: MNISTData, optimizer, scheduler, epoch: int, params: dict, log=print) -> tuple[float, list]:
    """One pass over the training images in a seeded random order; returns mean loss and the logged losses.

    The data lives on the model's device. The order, the numbers and the augmentation are drawn from
    seeded CPU generators, so a seed means the same data on every device; the only host syncs are
    the log lines.
    """
    n, batch_size, device = len(data.train_x), params["batch_size"], data.train_x.device
    generator = torch.Generator().manual_seed(epoch_seed(params["seed"], epoch))
    torch.manual_seed(epoch_seed(params["seed"], epoch))  # dropout
    order = torch.randperm(n, generator=generator).to(device)
    sampler = RandomSampler(batch_size, seed=int(torch.randint(2**62, (1,), generator=generator)), dataset_size=n)
    background = (0 - data.mean) / data.std
    held = held_out_pairs(params["holdout"], params["seed"]).to(device) if params["holdout"] else None
    model.train()
    losses, logged = [], []
    for batch_idx in range(len(sampler)):
        idx = order[batch_idx * batch_size:(batch_idx + 1) * batch_size]
        images, unknown = data.train_x[idx], None
        if params["augment"]:
            images = random_affine(images, generator, background)
        if params["augment"] == "robust":
            images, unknown = robust_augment(images, generator, data.mean, data.std)
        digits, number_bits = data.train_y[idx], sampler.getRandomBatch().to(device)
        numbers = bits_to_int(number_bits)
        if params["holdout"]:  # never train on a held-out pair: take the next number instead
            numbers = allowed_numbers(numbers, digits, held)
            number_bits = int_to_bits(numbers, NUMBER_BITS)
        with autocast(device, params["precision"]):
            logits = model(images, number_bits)
        loss = output_loss(model.encoding, logits.float(), digits, numbers, unknown)  # the loss in fp32
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.detach())
        if batch_idx % params["log_interval"] == 0:
            logged.append({"epoch": epoch, "batch": batch_idx, "seen": batch_idx * batch_size, "loss": loss.item()})
            log(f"Train Epoch: {epoch} [{batch_idx * batch_size}/{n} "
                f"({100 * batch_idx / len(sampler):.0f}%)]\tLoss: {loss.item():.6f}")
    sizes = [min(batch_size, n - i * batch_size) for i in range(len(losses))]
    return sum(loss * size for loss, size in zip(torch.stack(losses).tolist(), sizes)) / n, logged


@torch.no_grad()
def evaluate(model, images: torch.Tensor, digits: torch.Tensor, numbers: torch.Tensor, batch_size: int = 1000) -> dict:
    """Loss and digit / sum / joint accuracy of `model` on (image, number) pairs, with its predictions.

    Invalid output codes (digit 10..15, sum 19..31) can never match a target, so they count as
    wrong; `invalid` says how many predictions had one.
    """
    model.eval()
    device = model_device(model)
    images, digits, numbers = images.to(device), digits.to(device), numbers.to(device)
    logits = torch.cat([model(images[i:i + batch_size], int_to_bits(numbers[i:i + batch_size], NUMBER_BITS))
                        for i in range(0, len(images), batch_size)])
    loss = output_loss(model.encoding, logits, digits, numbers).item()
    pred_digits, pred_sums = decode_outputs(model.encoding, logits)
    digit_ok, sum_ok = pred_digits == digits, pred_sums == digits + numbers
    n, correct = len(digits), (digit_ok & sum_ok).sum().item()
    return {
        "test_loss": loss,
        "digit_acc": digit_ok.sum().item() / n,
        "sum_acc": sum_ok.sum().item() / n,
        "joint_acc": correct / n,
        "correct": correct,
        "invalid": invalid_codes(pred_digits, pred_sums).sum().item(),
        "pred_digits": pred_digits.cpu(),
        "pred_sums": pred_sums.cpu(),
    }


ACCURACIES = ("digit_acc", "sum_acc", "joint_acc")


def evaluate_exhaustive(model, images: torch.Tensor, digits: torch.Tensor, held: torch.Tensor | None = None) -> dict:
    """Every evaluation image with every number 0..9 (10 x N pairs).

    Accuracies and invalid codes over all pairs, sum and joint accuracy per (digit, number) as
    10x10 tables, the digit confusion matrix (rows the true digit, columns the predicted digit 0..9
    and, last, an invalid digit code), and the `held` pairs (a 10x10 mask: the run's held-out
    pairs; by default the fixed 10 of FIXED_HOLDOUT, for comparison) against the others.
    """
    digits = digits.cpu()
    pred_digits, pred_sums = zip(*((r["pred_digits"], r["pred_sums"]) for r in (
        evaluate(model, images, digits, torch.full_like(digits, number)) for number in range(10))))
    pred_digits, pred_sums = torch.stack(pred_digits), torch.stack(pred_sums)  # (number, image)
    numbers = torch.arange(10).unsqueeze(1)
    digit_ok, sum_ok = pred_digits == digits, pred_sums == digits + numbers
    by_pair, joint_by_pair = torch.zeros(10, 10), torch.zeros(10, 10)
    for digit in range(10):
        by_pair[digit] = sum_ok[:, digits == digit].float().mean(1)
        joint_by_pair[digit] = (digit_ok & sum_ok)[:, digits == digit].float().mean(1)
    held = held_out_pairs(FIXED_HOLDOUT, 0) if held is None else held.cpu()
    confusion = torch.zeros(10, 11, dtype=torch.long)
    confusion.index_put_((digits.expand_as(pred_digits).flatten(), pred_digits.clamp(max=10).flatten()),
                         torch.ones(pred_digits.numel(), dtype=torch.long), accumulate=True)
    return {
        "pairs": digit_ok.numel(),
        "digit_acc": digit_ok.float().mean().item(),
        "sum_acc": sum_ok.float().mean().item(),
        "joint_acc": (digit_ok & sum_ok).float().mean().item(),
        "invalid": invalid_codes(pred_digits, pred_sums).sum().item(),
        "sum_acc_by_pair": by_pair.tolist(),
        "joint_acc_by_pair": joint_by_pair.tolist(),
        "confusion": confusion.tolist(),
        # the held-out pairs against the others (mean over pairs)
        "heldout": torch.nonzero(held).tolist(),
        "heldout_pairs": {"joint_acc": joint_by_pair[held].mean().item(), "sum_acc": by_pair[held].mean().item()},
        "seen_pairs": {"joint_acc": joint_by_pair[~held].mean().item(), "sum_acc": by_pair[~held].mean().item()},
    }


# ------------------------------------------------------------------------------ run parameters

AUGMENTS = (False, True, "robust")  # none; random rotation, scale, shift; that and corrupted digits

# Parameters that decide what a run computes; a resumed run must match them.
# The device is not among them: a run may resume on another device (same seed, other device: close,
# not bit-identical numbers).
TRAINING_PARAMS = ("epochs", "batch_size", "lr", "weight_decay", "seed", "backbone", "encoding", "number_input",
                   "augment", "holdout", "val_size", "train_size", "precision")
PARAMS = TRAINING_PARAMS + ("device", "log_interval", "data_dir", "output_dir", "image_dir", "resume", "min_joint_acc",
                            "export_path")


def resolve_hardware(params: dict) -> dict:
    """`params` with "auto" (or a device alias) replaced by the device and precision the run uses."""
    device = resolve_device(params["device"])
    return {**params, "device": str(device), "precision": resolve_precision(params["precision"], params["backbone"], device)}


def collect_params(namespace: dict) -> dict:
    """The run's parameters from the notebook's namespace, checked: a bad value fails here, clearly."""
    params = {k: namespace[k] for k in PARAMS}
    for key in ("epochs", "batch_size", "log_interval", "seed", "val_size"):
        value = params[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key in ("seed", "val_size") else 1):
            raise ValueError(f"{key} must be a {'non-negative' if key in ('seed', 'val_size') else 'positive'} int, got {value!r}")
    for key in ("lr", "weight_decay"):
        if isinstance(params[key], bool) or not isinstance(params[key], (int, float)) or not params[key] >= 0:
            raise ValueError(f"{key} must be a non-negative number, got {params[key]!r}")
    for key, choices in (("backbone", BACKBONES), ("encoding", ENCODINGS), ("number_input", NUMBER_INPUTS)):
        if params[key] not in choices:
            raise ValueError(f"{key} must be one of {sorted(choices)}, got {params[key]!r}")
    holdout = params["holdout"]
    if holdout != FIXED_HOLDOUT and (isinstance(holdout, bool) or not isinstance(holdout, int)
                                     or not 0 <= holdout <= MAX_HOLDOUT):
        raise ValueError(f"holdout must be a number of pairs 0..{MAX_HOLDOUT} or {FIXED_HOLDOUT!r}, got {holdout!r}")
    if not isinstance(params["resume"], bool):
        raise ValueError(f"resume must be True or False, got {params['resume']!r}")
    if not (isinstance(params["augment"], bool) or params["augment"] == "robust"):
        raise ValueError(f"augment must be one of {AUGMENTS}, got {params['augment']!r}")
    return resolve_hardware(params)


NOTEBOOK = ROOT / "notebooks" / "neural_network_on_steroids.ipynb"


def notebook_defaults(notebook=NOTEBOOK) -> dict:
    """The values of the primary notebook's `parameters` cell: the project's default configuration."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    namespace = {}
    exec(source, namespace)
    return {k: namespace[k] for k in PARAMS}


def make_training(params: dict, n_train: int, channels_last: bool = True, device="cpu"):
    """Seeded model (initialised on the CPU, then moved: the same weights on every device), AdamW
    optimizer and one-cycle schedule for `params`."""
    torch.manual_seed(params["seed"])
    model = Net(params["backbone"], params["encoding"], channels_last, params["number_input"]).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params["lr"], weight_decay=params["weight_decay"])
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=params["lr"], epochs=params["epochs"],
        steps_per_epoch=math.ceil(n_train / params["batch_size"]))
    return model, optimizer, scheduler


def fit(params: dict, data: MNISTData, log=print) -> dict:
    """Train for `params["epochs"]`, evaluating after each epoch, checkpointing to output_dir.

    Writes `{output_dir}/model.pt` (atomically, every epoch) and `{output_dir}/metrics.json`.
    With `params["resume"]` it continues from the checkpoint there. Returns the run's state:
    model, metrics and the last evaluation.
    """
    params = resolve_hardware(params)
    device = torch.device(params["device"])
    out = resolve(params["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    model, optimizer, scheduler = make_training(params, len(data.train_x), device=device)
    data = data.to(device)
    history, train_log, first_epoch = [], [], 1
    if params.get("resume") and (out / "model.pt").exists():
        state = read_checkpoint(out / "model.pt")
        changed = [k for k in TRAINING_PARAMS if state["params"].get(k) != params[k]]
        if changed:
            raise ValueError(f"cannot resume {out / 'model.pt'}: it was trained with other "
                             + ", ".join(f"{k}={state['params'].get(k)!r}" for k in changed))
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, train_log, first_epoch = state["history"], state["train_log"], state["epoch"] + 1
        log(f"Resumed from {out / 'model.pt'} after epoch {state['epoch']}")
    numbers = eval_numbers(len(data.eval_x))
    result = None
    for epoch in range(first_epoch, params["epochs"] + 1):
        synchronize(device)
        start = time.perf_counter()
        train_loss, logged = train_epoch(model, data, optimizer, scheduler, epoch, params, log)
        synchronize(device)
        seconds = time.perf_counter() - start
        result = evaluate(model, data.eval_x, data.eval_y, numbers)
        n = len(data.eval_y)
        log(f"\n{data.eval_name.capitalize()} set: Avg. loss: {result['test_loss']:.4f}, "
            f"Accuracy: {result['correct']}/{n} ({100 * result['joint_acc']:.0f}%)")
        log(f"Epoch {epoch}: digit {result['digit_acc']:.2%}  sum {result['sum_acc']:.2%}  "
            f"joint {result['joint_acc']:.2%}  invalid codes {result['invalid']}  ({seconds:.1f} s)\n")
        history.append({"epoch": epoch, "train_loss": train_loss, "seconds": seconds,
                        **{k: result[k] for k in ("test_loss", *ACCURACIES, "invalid")}})
        train_log += logged
        save_checkpoint(out / "model.pt", model, data, params, epoch, history, train_log, optimizer, scheduler)
        write_metrics(out / "metrics.json", params, history, train_log, data)
    if result is None:  # resumed a finished run: evaluate what it left
        result = evaluate(model, data.eval_x, data.eval_y, numbers)
    held = held_out_pairs(params["holdout"], params["seed"]) if params["holdout"] else None
    exhaustive = evaluate_exhaustive(model, data.eval_x, data.eval_y, held)
    metrics = write_metrics(out / "metrics.json", params, history, train_log, data, exhaustive)
    return {"model": model, "metrics": metrics, "result": result, "numbers": numbers}


# -------------------------------------------------------------------------- checkpoints and metrics

CHECKPOINT_FORMAT = "neural-network-on-steroids/1"


def resolve(path) -> Path:
    """A path from the parameters: relative ones are relative to the repository root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else ROOT / path


def atomic_write(path: Path, write) -> None:
    """Call `write(tmp_path)`, then rename onto `path`: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def json_params(params: dict) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in params.items()}


def save_checkpoint(path: Path, model, data: MNISTData, params: dict, epoch: int, history: list,
                    train_log: list, optimizer=None, scheduler=None) -> None:
    """Everything needed to predict (weights, normalization) and to resume (optimizer, schedule)."""
    state = {
        "format": CHECKPOINT_FORMAT, "backbone": model.backbone_name, "encoding": model.encoding,
        "number_input": model.number_input,
        "mean": data.mean, "std": data.std,
        "model": model.state_dict(), "params": json_params(params), "epoch": epoch,
        "history": history, "train_log": train_log,
        "optimizer": optimizer.state_dict() if optimizer else None,
        "scheduler": scheduler.state_dict() if scheduler else None,
    }
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def read_checkpoint(path) -> dict:
    """A checkpoint's contents, loaded with weights_only=True so it can never run code."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path} is not a readable checkpoint (truncated or not a torch file): "
                         f"{str(error).strip().splitlines()[0]}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a checkpoint of this project (expected format {CHECKPOINT_FORMAT!r})")
    return state


def versions(device="cpu") -> dict:
    """Library versions and the name of the device a run used."""
    return {"torch": torch.__version__, "torchvision": torchvision.__version__, "python": platform.python_version(),
            "device": device_name(torch.device(device))}


def write_metrics(path: Path, params: dict, history: list, train_log: list, data: MNISTData,
                  exhaustive: dict | None = None) -> dict:
    """metrics.json: parameters, library versions, per-epoch history, final accuracies, train time,
    and, once training is done, the exhaustive evaluation."""
    metrics = {
        "params": json_params(params),
        "versions": versions(params["device"]),
        "data": {"eval_set": data.eval_name, "mean": data.mean, "std": data.std},
        "history": history,
        "final": {k: history[-1][k] for k in ACCURACIES},
        "train_seconds": sum(h["seconds"] for h in history),
        "exhaustive": exhaustive,
        "train_log": train_log,
    }
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(metrics, indent=1)))
    return metrics


# ------------------------------------------------------------------------------ predict on user input

def export_model(checkpoint, path) -> Path:
    """Write the weights and normalization of a training checkpoint, without optimizer state (small)."""
    state = read_checkpoint(checkpoint)
    state.update(optimizer=None, scheduler=None, train_log=[])
    path = resolve(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save(state, tmp))
    return path


def load_checkpoint(path, device="cpu") -> Net:
    """The trained model of a checkpoint, in eval mode, with its normalization (`mean`, `std`), on `device`.

    A checkpoint trained on any device and in any precision loads here: weights are kept in fp32 and
    read onto the CPU first.
    """
    state = read_checkpoint(path)
    model = Net(state["backbone"], state["encoding"], number_input=state.get("number_input", "bits"))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise ValueError(f"{path} does not match the {state['backbone']!r} network: "
                         f"{str(error).splitlines()[0]}") from None
    model.mean, model.std = state["mean"], state["std"]
    return model.to(resolve_device(device)).eval()


def as_images(images) -> tuple[torch.Tensor, bool]:
    """User images -> float (N, 1, 28, 28) in [0, 1], and whether a single image was given.

    Integer dtypes (uint8, int64, ...) hold raw pixels 0..255; float dtypes hold [0, 1].
    """
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor or numpy array, got {type(images).__name__}")
    shape = tuple(images.shape)
    if images.dim() not in (2, 3, 4) or shape[-2:] != (28, 28) or (images.dim() == 4 and shape[1] != 1):
        raise ValueError(f"images must be 28x28, Nx28x28 or Nx1x28x28, got shape {shape}")
    if images.numel() == 0:
        raise ValueError("images is an empty batch")
    single = images.dim() == 2
    if images.dtype == torch.bool or images.is_complex():
        raise TypeError(f"images must hold integer pixels 0..255 or floats in [0, 1], got {images.dtype}")
    if images.dtype.is_floating_point:
        if not torch.isfinite(images).all():
            raise ValueError("images contain NaN or infinite pixels")
        if images.min() < 0 or images.max() > 1:
            raise ValueError(f"float images must lie in [0, 1] (use uint8 for 0..255 pixels), "
                             f"got {images.min().item():g}..{images.max().item():g}")
        pixels = images.float()
    else:
        if images.min() < 0 or images.max() > 255:
            raise ValueError(f"integer images must hold pixels 0..255, got {images.min().item()}..{images.max().item()}")
        pixels = images.float() / 255
    return pixels.reshape(-1, 1, 28, 28), single


def as_numbers(numbers, count: int, single: bool) -> torch.Tensor:
    """User numbers -> int64 tensor of `count` values in 0..9: an int for one image, a sequence for a batch."""
    def bad(what):
        return TypeError(f"numbers must be {'an int' if single else f'a sequence of {count} ints'} in 0..9; got {what}")

    if single:
        if isinstance(numbers, (bool, np.bool_)) or not isinstance(numbers, (int, np.integer)):
            raise bad(repr(numbers))
        values = torch.tensor([int(numbers)])
    else:
        if isinstance(numbers, (str, bytes, int, float)) or not hasattr(numbers, "__len__"):
            raise bad(repr(numbers))
        if isinstance(numbers, (torch.Tensor, np.ndarray)):
            values = torch.as_tensor(numbers)
            if values.dtype.is_floating_point or values.dtype in (torch.bool, torch.complex64, torch.complex128):
                raise bad(f"dtype {values.dtype}")
            if values.dim() != 1:
                raise ValueError(f"numbers must be one-dimensional, got shape {tuple(values.shape)}")
        else:
            for value in numbers:
                if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                    raise bad(f"{value!r} in the sequence")
            values = torch.tensor([int(v) for v in numbers], dtype=torch.int64)
        if len(values) != count:
            raise ValueError(f"got {count} images but {len(values)} numbers; give one number per image")
    if values.min() < 0 or values.max() > 9:
        raise ValueError(f"numbers must be in 0..9, got {values.min().item()}..{values.max().item()}")
    return values.long()


def answer_confidence(encoding: str, logits: torch.Tensor, numbers: torch.Tensor, digits: torch.Tensor,
                      sums: torch.Tensor) -> torch.Tensor:
    """How sure the model is of its decoded answer, in [0, 1]: the likelihood of the answer's output code
    among the 10 codes that can be right for the number (digit d, sum d + number), normalized over
    them. 0 where the answer is none of them (an invalid code, or a sum that is not digit + number)."""
    logits = logits.float()
    candidates = torch.arange(10, device=logits.device).expand(len(numbers), 10)  # (N, 10) digits
    candidate_sums = candidates + numbers[:, None]
    if encoding == "softmax":
        log_likelihood = (logits[:, :10].log_softmax(-1).gather(1, candidates)
                          + logits[:, 10:].log_softmax(-1).gather(1, candidate_sums))
    else:
        codes = (encode_targets(candidates, candidate_sums - candidates) if encoding == "binary" else
                 torch.cat([F.one_hot(candidates, 10), F.one_hot(candidate_sums, 19)], -1).float())
        log_likelihood = -F.binary_cross_entropy_with_logits(
            logits[:, None, :].expand_as(codes), codes, reduction="none").sum(-1)
    probability = log_likelihood.softmax(-1).gather(1, digits.clamp(max=9)[:, None])[:, 0]
    return torch.where((digits <= 9) & (sums == digits + numbers), probability, torch.zeros_like(probability))


@torch.no_grad()
def predict(model: Net, images, numbers, confidence: bool = False):
    """Predicted (digits, sums) for images and numbers 0..9: ints for one image, tensors for a batch.

    `images`: one 28x28 image or a batch (Nx28x28 or Nx1x28x28), tensor or numpy array; integer
    dtypes are raw pixels 0..255, float dtypes are in [0, 1]. `numbers`: an int for one image, a
    sequence / array / tensor of ints for a batch. The model's own normalization is applied. The
    model may be on any device; the answers come back on the CPU. A digit above 9 or a sum above 18
    is the model answering with an invalid code (about 3 in 10,000 pairs for the shipped model); it
    is returned as it is, never mapped to a valid answer. With `confidence`, a third value says how
    sure the model is of each answer (`answer_confidence`: a float in [0, 1]).
    """
    pixels, single = as_images(images)
    values = as_numbers(numbers, len(pixels), single)
    model.eval()
    device = model_device(model)
    logits = model(((pixels - model.mean) / model.std).to(device), int_to_bits(values, NUMBER_BITS).to(device)).cpu()
    answers = decode_outputs(model.encoding, logits)
    if confidence:
        answers = (*answers, answer_confidence(model.encoding, logits, values, *answers))
    return tuple(a.item() for a in answers) if single else answers


def image_file_to_mnist(path) -> np.ndarray:
    """A PNG or JPEG of any size, color or gray -> uint8 28x28, white digit on black, as MNIST.

    Gray scale; inverted when the background (the border) is light; cropped to the ink; scaled so
    the longer side is 20 px; centred by its centre of mass in 28x28 -- the same way every time.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            gray = np.asarray(image.convert("L"), dtype=np.float64)
    except FileNotFoundError:
        raise FileNotFoundError(f"no image at {path}") from None
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"{path} is not a readable image ({error})") from None
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 127:
        gray = 255 - gray
    ink = gray > 0.25 * gray.max() if gray.max() > 0 else np.zeros_like(gray, bool)
    if not ink.any():
        raise ValueError(f"{path} has no digit in it (a blank image)")
    rows, cols = np.nonzero(ink)
    crop = gray[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = 20 / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    small = np.asarray(Image.fromarray(crop.astype(np.uint8)).resize(size, Image.Resampling.LANCZOS), dtype=np.float64)
    total = small.sum()
    cy = (small.sum(1) * np.arange(small.shape[0])).sum() / total
    cx = (small.sum(0) * np.arange(small.shape[1])).sum() / total
    top, left = int(round(14 - cy)), int(round(14 - cx))
    top, left = min(max(top, 0), 28 - small.shape[0]), min(max(left, 0), 28 - small.shape[1])
    canvas = np.zeros((28, 28), dtype=np.uint8)
    canvas[top:top + small.shape[0], left:left + small.shape[1]] = small.clip(0, 255).round().astype(np.uint8)
    return canvas
