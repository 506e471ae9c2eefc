"""The original's training pipeline, as a reference for the speed comparisons (`benchmark.py`, `profile_step.py`):
a DataLoader over torchvision's MNIST with per-sample ToTensor + Normalize, batch 128, shuffled; the classic
320-feature CNN with the original head; BCE on the 9 bits; Adam at lr 1e-3."""
from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
import torchvision
from torchvision import transforms

from ..core.mnist import MNIST_MEAN, MNIST_STD, data_root
from .encoding import bits_to_int, encode_targets
from .model import Net
from .sampler import RandomSampler


def reference_pipeline(seed: int = 1, device="cpu"):
    """The original's pipeline, seeded. Returns the model and `train(batches)`, which trains on that
    many batches of the shuffled loader (None: one epoch), each batch moved to `device` as it comes."""
    torch.manual_seed(seed)
    dataset = torchvision.datasets.MNIST(data_root(), train=True, transform=transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))]))
    loader = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=True)
    model = Net(backbone="classic").to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    sampler = RandomSampler(128, seed=seed)

    def train(batches=None):
        model.train()
        for images, digits in itertools.islice(loader, batches):
            images, digits, number_bits = images.to(device), digits.to(device), sampler.getRandomBatch().to(device)
            loss = F.binary_cross_entropy_with_logits(
                model(images, number_bits), encode_targets(digits, bits_to_int(number_bits)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model, train


__all__ = ["reference_pipeline"]
