"""Data: MNIST from disk (or a download) into normalized tensors, with a validation split."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torchvision

from .paths import DATA

# The four files torchvision keeps under <root>/MNIST/raw, with their sizes and published MD5s.
MNIST_FILES = {
    "train-images-idx3-ubyte": (47_040_016, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (60_008, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (7_840_016, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (10_008, "27ae3e4e09519cfbb04c329615203637"),
}


# MNIST's training-set mean and std as usually published (rounded): what the original's pipeline normalizes with.
# This project's own pipeline computes them from the images it trains on (`normalization`).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class MNISTDataError(RuntimeError):
    """The MNIST files are missing, truncated or corrupt."""


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The MNIST root: `data_dir` (relative to the working directory), else $MNIST_DATA_DIR, else `data/` in the
    repository."""
    return Path(data_dir or os.environ.get("MNIST_DATA_DIR") or DATA).expanduser().resolve()


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


def ensure_mnist(data_dir=None, download: bool = True) -> Path:
    """The data root, once MNIST's four files are there: downloaded into `data_root(data_dir)` when they are missing
    and `download` is set, then checked; MNISTDataError, naming the folder, when they cannot be had."""
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
    return root


def load_mnist(data_dir=None, download: bool = True) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Both splits as uint8 images (N, 28, 28) and int64 labels, read once by torchvision (`ensure_mnist` first)."""
    root = ensure_mnist(data_dir, download)
    splits = {}
    for split, train in (("train", True), ("test", False)):
        dataset = torchvision.datasets.MNIST(root, train=train, download=False)
        splits[split] = (dataset.data, dataset.targets)
    return splits


def normalization(images: torch.Tensor) -> tuple[float, float]:
    """Mean and std of uint8 images on the [0, 1] scale (MNIST train: about 0.1307 and 0.3081)."""
    pixels = images.double().div(255)
    return pixels.mean().item(), pixels.std().item()


def background(mean: float, std: float) -> float:
    """A black pixel (MNIST's background) after normalizing: what augmentation fills the border with."""
    return (0 - mean) / std


def normalize(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28), standardized."""
    return (images.float().div(255).sub(mean).div(std)).unsqueeze(1)


def evaluation_split(splits: dict, val_size: int = 0) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple]:
    """(training images, labels) and (evaluation images, labels): the test split, or with `val_size` > 0 a fixed
    validation split of that many training images (the same in every run of either task) and the rest to train on."""
    train_images, train_labels = splits["train"]
    if isinstance(val_size, bool) or not isinstance(val_size, int) or not 0 <= val_size < len(train_images):
        raise ValueError(f"val_size must be in 0..{len(train_images) - 1}, got {val_size!r}")
    if not val_size:
        return (train_images, train_labels), splits["test"]
    order = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(0))
    keep, held = order[:-val_size], order[-val_size:]
    return (train_images[keep], train_labels[keep]), (train_images[held], train_labels[held])


class Standardized:
    """What data standardized with its training images' `mean` and `std` (fields of the dataclass that takes this
    in) knows: the value of a black pixel."""

    @property
    def background(self) -> float:
        """A black pixel, normalized (what augmentation fills the border with)."""
        return background(self.mean, self.std)


@dataclass
class MNISTData(Standardized):
    """Normalized images and labels as tensors; `eval_*` is the test set or a validation split."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    eval_x: torch.Tensor
    eval_y: torch.Tensor
    eval_images: torch.Tensor  # the same eval images as uint8, for figures
    mean: float
    std: float
    eval_name: str  # "test" or "validation"

    def to(self, device, dtype: torch.dtype = torch.float32) -> "MNISTData":
        """The same data with the training and evaluation tensors on `device` (moved once, not per batch), the images
        in `dtype`."""
        moved = {k: getattr(self, k).to(device) for k in ("train_y", "eval_y")}
        moved |= {k: getattr(self, k).to(device, dtype) for k in ("train_x", "eval_x")}
        return replace(self, **moved)


def prepare_data(data_dir=None, val_size: int = 0, train_size: int | None = None, download: bool = True,
                 eval_size: int | None = None) -> MNISTData:
    """Load MNIST once into normalized tensors.

    `val_size` > 0 carves a fixed validation split from the training set and evaluates on it
    instead of the test set (for tuning). `train_size` and `eval_size` keep only the first images (smoke runs).
    Mean and std come from the training images actually used.
    """
    (train_images, train_labels), (eval_images, eval_labels) = evaluation_split(load_mnist(data_dir, download), val_size)
    for name, size, images in (("train_size", train_size, train_images), ("eval_size", eval_size, eval_images)):
        if size is not None and not 0 < size <= len(images):
            raise ValueError(f"{name} must be in 1..{len(images)}, got {size}")
    train_images, train_labels = train_images[:train_size], train_labels[:train_size]
    eval_images, eval_labels = eval_images[:eval_size], eval_labels[:eval_size]
    mean, std = normalization(train_images)
    return MNISTData(
        normalize(train_images, mean, std), train_labels,
        normalize(eval_images, mean, std), eval_labels, eval_images,
        mean, std, "validation" if val_size else "test",
    )


__all__ = ["MNIST_FILES", "MNIST_MEAN", "MNIST_STD", "MNISTDataError", "data_root", "check_mnist_files", "ensure_mnist", "load_mnist", "normalization", "background", "normalize",
           "evaluation_split", "Standardized", "MNISTData", "prepare_data"]
