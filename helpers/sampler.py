"""The sampler: random numbers 0..9 for each MNIST batch, as 4 float bits."""
from __future__ import annotations

import math

import torch


NUMBER_BITS = 4  # the number 0..9 as 4 bits


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


__all__ = ["NUMBER_BITS", "int_to_bits", "bits_to_int", "RandomSampler"]
