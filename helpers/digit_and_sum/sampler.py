"""The sampler: random numbers 0..9 for each MNIST batch, as 4 float bits (the code: `encoding.int_to_bits`)."""
from __future__ import annotations

import math

import torch

from .encoding import NUMBER_BITS, int_to_bits


class RandomSampler:
    """Random integers 0..9 for MNIST batches, as 4 float bits (most significant first).

    The name is the original design's, which its users know; it is not `torch.utils.data.RandomSampler` (which
    draws indices of a dataset) and does not plug into a DataLoader.

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
        return int_to_bits(torch.randint(0, 10, (n,), generator=self.generator), NUMBER_BITS, check=False)


__all__ = ["RandomSampler"]
