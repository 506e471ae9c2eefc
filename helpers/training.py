"""Training: one seeded epoch (augmented by `helpers.augment`), the (digit, number) pairs held out of it, and
batch-norm recalibration."""
from __future__ import annotations

import torch

from .augment import random_affine, robust_augment, to_device
from .device import at_least_fp32, autocast
from .data import MNISTData
from .sampler import RandomSampler
from .encoding import NUMBER_BITS, bits_to_int, int_to_bits, output_loss


FIXED_HOLDOUT = "3d+7"  # the 10 pairs (d, 3d + 7 mod 10): one per digit and per number
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


def cell_coverage(held: torch.Tensor) -> dict:
    """What the pairs trained on show a full adder's cell. Each (digit, number) pair not in the 10x10 mask `held`,
    added in binary from the least significant bit, gives the cell an input (digit bit, number bit, carry in) at every
    position: which of the 8 `triples` occur, and which `counts` of ones (0-3) among them. A count never shown is one
    whose answer the pairs cannot teach."""
    triples = set()
    for digit, number in torch.nonzero(~held.cpu()).tolist():
        carry = 0
        for i in range(NUMBER_BITS):
            a, b = digit >> i & 1, number >> i & 1
            triples.add((a, b, carry))
            carry = int(a + b + carry >= 2)
    return {"triples": sorted(list(t) for t in triples), "counts": sorted({sum(t) for t in triples})}


def allowed_numbers(numbers: torch.Tensor, digits: torch.Tensor, held: torch.Tensor) -> torch.Tensor:
    """Each number, or where (digit, number) is held out the next number that is not (every digit has one)."""
    for _ in range(9):  # a fixed count: no host sync to ask whether any is left
        numbers = torch.where(held[digits, numbers], (numbers + 1) % 10, numbers)
    return numbers


def epoch_seed(seed: int, epoch: int) -> int:
    """Each epoch draws all its randomness from its own seed, so a resumed run repeats exactly."""
    return seed * 1_000 + epoch


def optimizer_step(loss: torch.Tensor, optimizer, scheduler) -> torch.Tensor:
    """Backpropagate `loss`, step the optimizer and its schedule; returns the loss, detached (left on the device)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    return loss.detach()


def train_epoch(model, data: MNISTData, optimizer, scheduler, epoch: int, config, log=print) -> tuple[torch.Tensor, list]:
    """One pass over the training images in a seeded random order; returns the mean loss (a 0-dim tensor on the
    device) and the logged losses.

    The data lives on the model's device. The order, the numbers and the augmentation are drawn from
    seeded CPU generators, so a seed means the same data on every device, and reach the device through
    `to_device` (non-blocking); the host waits for the device only at the log lines.
    """
    n, batch_size, device = len(data.train_x), config.batch_size, data.train_x.device
    generator = torch.Generator().manual_seed(epoch_seed(config.seed, epoch))
    torch.manual_seed(epoch_seed(config.seed, epoch))  # dropout
    order = to_device(torch.randperm(n, generator=generator), device)
    sampler = RandomSampler(batch_size, seed=int(torch.randint(2**62, (1,), generator=generator)), dataset_size=n)
    background = (0 - data.mean) / data.std
    held = to_device(held_out_pairs(config.holdout, config.seed), device) if config.holdout else None
    model.train()
    losses, logged = [], []
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
        with autocast(device, config.precision):
            logits = model(images, number_bits)
        loss = output_loss(model.encoding, at_least_fp32(logits), digits, numbers, unknown,  # the loss in fp32 (or fp64)
                           config.label_smoothing)
        losses.append(optimizer_step(loss, optimizer, scheduler))
        if batch_idx % config.log_interval == 0:  # the step's one wait for the device, every log_interval steps
            logged.append({"epoch": epoch, "batch": batch_idx, "seen": batch_idx * batch_size, "loss": loss.item()})
            log(f"Train Epoch: {epoch} [{batch_idx * batch_size}/{n} "
                f"({100 * batch_idx / len(sampler):.0f}%)]\tLoss: {logged[-1]['loss']:.6f}")
    sizes = to_device(torch.tensor([min(batch_size, n - i * batch_size) for i in range(len(losses))],
                                   dtype=torch.float64), device)
    return (torch.stack(losses).double() * sizes).sum() / n, logged  # on the device: the caller reads it when it wants


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


__all__ = ["FIXED_HOLDOUT", "MAX_HOLDOUT", "held_out_pairs", "cell_coverage", "allowed_numbers", "epoch_seed",
           "optimizer_step", "train_epoch", "recalibrate_batch_norm"]
