"""Training the primary task: one seeded epoch's batches (augmented by the core's affine change, or
`augment="robust"`; never a held-out pair), the epoch's steps, and batch-norm recalibration."""
from __future__ import annotations

import math

import torch

from ..core.augment import random_affine
from ..core.device import at_least_fp32, autocast, to_device
from ..core.mnist import MNISTData
from ..core.training import optimizer_step, seed_epoch
from .encoding import NUMBER_BITS, bits_to_int, int_to_bits, output_loss
from .pairs import allowed_numbers, held_out_pairs
from .robust import robust_augment
from .sampler import RandomSampler


def training_batches(data: MNISTData, config, epoch: int):
    """One epoch's batches, in a seeded random order: `(images, number_bits, digits, numbers, unknown)` for each
    training step, on the data's device. The images augmented (`config.augment`; `unknown` marks the corrupted ones
    that carry no digit, else None), the numbers drawn by `RandomSampler` for exactly this batch, never a held-out
    pair (`config.holdout`).

    The order, the numbers and the augmentation are drawn from seeded CPU generators, so a seed means the same data on
    every device, and reach the device through `to_device` (non-blocking).
    """
    n, batch_size, device = len(data.train_x), config.batch_size, data.train_x.device
    generator = seed_epoch(config.seed, epoch)  # the order, numbers and augmentation; torch's seed for dropout
    order = to_device(torch.randperm(n, generator=generator), device)
    sampler = RandomSampler(batch_size, seed=int(torch.randint(2**62, (1,), generator=generator)), dataset_size=n)
    background = (0 - data.mean) / data.std
    held = to_device(held_out_pairs(config.holdout, config.seed), device) if config.holdout else None
    for batch_idx in range(len(sampler)):
        idx = order[batch_idx * batch_size:(batch_idx + 1) * batch_size]
        images, unknown = data.train_x[idx], None
        if config.augment:
            images = random_affine(images, generator, background, elastic=config.elastic)
        if config.augment == "robust":
            images, unknown = robust_augment(images, generator, data.mean, data.std)
        digits, number_bits = data.train_y[idx], to_device(sampler.getRandomBatch(), device)
        numbers = bits_to_int(number_bits)
        if config.holdout:  # never train on a held-out pair: take the next number instead
            numbers = allowed_numbers(numbers, digits, held)
            number_bits = int_to_bits(numbers, NUMBER_BITS, check=False)
        yield images, number_bits, digits, numbers, unknown


def train_epoch(model, data: MNISTData, optimizer, scheduler, epoch: int, config, log=print) -> list[torch.Tensor]:
    """One pass over `training_batches`: the forward pass under the run's precision, BCE on the 9 output bits in fp32
    (`output_loss`), an AdamW step and a step of the schedule. Returns every step's loss (0-dim tensors left on the
    device: the host waits for it only at the progress lines, every `log_interval` steps)."""
    model.train()
    losses, device, n = [], data.train_x.device, len(data.train_x)
    steps = math.ceil(n / config.batch_size)
    for step, (images, number_bits, digits, numbers, unknown) in enumerate(training_batches(data, config, epoch)):
        with autocast(device, config.precision):
            logits = model(images, number_bits)
        loss = output_loss(model.encoding, at_least_fp32(logits), digits, numbers, unknown, config.label_smoothing)
        losses.append(optimizer_step(loss, optimizer, scheduler))
        if step % config.log_interval == 0:
            log(f"Train Epoch: {epoch} [{step * config.batch_size}/{n} "
                f"({100 * step / steps:.0f}%)]\tLoss: {loss.item():.6f}")
    return losses


@torch.no_grad()
def recalibrate_batch_norm(model, images: torch.Tensor, precision: str = "fp32", batch_size: int = 1000) -> None:
    """Batch norm's running statistics estimated afresh from `images` (the un-augmented training images).

    During training they follow the augmented batches, while evaluation sees clean digits; this pass (forward
    only, about a quarter of an epoch) makes them those of clean digits. The weights do not change. The same
    procedure as `torch.optim.swa_utils.update_bn`, which calls the model with one input and without autocast."""
    momenta = {m: m.momentum for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)}
    model.eval()  # dropout off ...
    for norm in momenta:  # ... batch norm collecting: a plain average over all batches (momentum None)
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    device = images.device
    zeros = torch.zeros(batch_size, NUMBER_BITS, device=device)  # the number does not reach the backbone
    with autocast(device, precision):
        for i in range(0, len(images), batch_size):
            batch = images[i:i + batch_size]
            model(batch, zeros[:len(batch)])
    for norm, momentum in momenta.items():
        norm.momentum = momentum
    model.eval()


__all__ = ["training_batches", "train_epoch", "recalibrate_batch_norm"]
