"""MNIST addition's data, DeepProbLog's protocol: the images of a split, shuffled by the run's seed, taken in order,
2N at a time (the first number's digits, most significant first, then the second's), each image used once:
⌊images / 2N⌋ pairs, and their sums digit by digit. Only the sums supervise; the digit labels are kept to report
the perception's accuracy after training."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..core.mnist import Standardized, evaluation_split, load_mnist, normalization, normalize


def addition_pairs(n_images: int, digits: int, generator: torch.Generator) -> torch.Tensor:
    """DeepProbLog's pairs: the images' indices shuffled, then taken in order, 2N at a time: (pairs, 2, N) indices,
    each number's digits most significant first; the images left over (fewer than 2N) are not used."""
    order = torch.randperm(n_images, generator=generator)
    pairs = n_images // (2 * digits)
    return order[:pairs * 2 * digits].view(pairs, 2, digits)


def protocol_pairs(n_train: int, n_eval: int, digits: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The protocol's training and evaluation pairs for `seed`: one generator, the training images' order drawn
    first, then the evaluation images' (so a model trained at one N is evaluated at another on the very pairs a run
    at that N would be)."""
    generator = torch.Generator().manual_seed(seed)
    return addition_pairs(n_train, digits, generator), addition_pairs(n_eval, digits, generator)


def sum_digits(numbers: torch.Tensor) -> torch.Tensor:
    """(..., 2, N) digits of two numbers, most significant first -> (..., N + 1) digits of their sum, most significant
    first (the first is the last carry: 0 or 1). Digit by digit, so N may be 100 (no integer holds such a sum)."""
    total = numbers.sum(-2)  # (..., N): the two digits' sum at each position
    out, carry = [], torch.zeros_like(total[..., 0])
    for i in reversed(range(total.shape[-1])):
        column = total[..., i] + carry
        out.append(column % 10)
        carry = column // 10
    return torch.stack([carry, *reversed(out)], -1)


@dataclass
class AdditionData(Standardized):
    """The benchmark's images (normalized, on one device) and pairs. `train_digits` are the training images' labels,
    kept for what a reader may check by hand; training reads only `train_sums`. `eval_*` is the test split or a
    validation split carved from the training images."""

    digits: int  # N: digits per number
    train_x: torch.Tensor  # (M, 1, 28, 28) normalized images, as MNISTData's
    train_pairs: torch.Tensor  # (P, 2, N) indices into train_x
    train_sums: torch.Tensor  # (P, N + 1) the supervision: each pair's sum, digit by digit
    train_digits: torch.Tensor  # (M,) never read by training
    eval_x: torch.Tensor  # (M', 1, 28, 28) normalized as the training images
    eval_pairs: torch.Tensor
    eval_sums: torch.Tensor
    eval_digits: torch.Tensor  # (M',) for the perception's digit accuracy, read after training
    mean: float
    std: float
    eval_name: str  # "test" or "validation"

    def to(self, device) -> "AdditionData":
        """The same data with every tensor on `device` (moved once)."""
        return replace(self, **{k: v.to(device) for k, v in vars(self).items() if isinstance(v, torch.Tensor)})


def prepare_addition(digits: int, seed: int, val_size: int = 0, data_dir=None, train_pairs: int | None = None,
                     download: bool = True, splits: dict | None = None) -> AdditionData:
    """MNIST as the benchmark's pairs of `digits`-digit numbers, deterministic for `seed`.

    `val_size` > 0 carves that many images from the training split (the same fixed split as the primary notebook's)
    and pairs them for evaluation instead of the test split. `train_pairs` keeps only the first pairs (smoke runs).
    Normalized with the mean and std of the training images used. `splits`: MNIST as `load_mnist` returns it, if
    already loaded."""
    (train_images, train_labels), (eval_images, eval_labels) = evaluation_split(splits or load_mnist(data_dir, download),
                                                                               val_size)
    train, evaluation = protocol_pairs(len(train_images), len(eval_images), digits, seed)
    train = train[:train_pairs]
    mean, std = normalization(train_images)
    return AdditionData(digits, normalize(train_images, mean, std), train, sum_digits(train_labels[train]), train_labels,
                        normalize(eval_images, mean, std), evaluation, sum_digits(eval_labels[evaluation]), eval_labels,
                        mean, std, "validation" if val_size else "test")


__all__ = ["addition_pairs", "protocol_pairs", "sum_digits", "AdditionData", "prepare_addition"]
