"""What every training loop of the project draws on: each epoch's seeded generator, AdamW with its schedule, and
the epoch's mean loss. The loops themselves live with their task (`digit_and_sum.train`, `mnist_addition.train`)."""
from __future__ import annotations

import torch

from .device import autocast, to_device


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The epoch's CPU generator (its order and every other draw) and torch's global seed (dropout), both seeded with
    seed * 1000 + epoch: each epoch draws from its own seed, so a resumed run repeats exactly."""
    torch.manual_seed(seed * 1_000 + epoch)
    return torch.Generator().manual_seed(seed * 1_000 + epoch)


SCHEDULES = ("onecycle", "constant")


def make_optimizer(params, lr: float, weight_decay: float, epochs: int, steps_per_epoch: int, device="cpu",
                   schedule: str = "onecycle"):
    """AdamW (its fused implementation, one kernel per step, where torch has one) over `params` (tensors or
    parameter groups) and a one-cycle schedule peaking at `lr`; `schedule` "constant": `lr` throughout (with
    weight_decay 0, Adam: the papers' MNIST-addition perception optimizer)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay,
                                  fused=torch.device(device).type in ("cpu", "cuda"))
    if schedule == "constant":
        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch)
    return optimizer, scheduler


def epoch_loss(losses: list[torch.Tensor], sizes: list[int]) -> torch.Tensor:
    """The epoch's loss: each step's mean loss weighted by its samples (a last, smaller batch counts for less), a
    0-dim float64 tensor on the steps' device (the caller reads it when it wants)."""
    weights = to_device(torch.tensor(sizes, dtype=torch.float64), losses[0].device)
    return (torch.stack(losses).double() * weights).sum() / sum(sizes)


@torch.no_grad()
def recalibrate_batch_norm(model, images: torch.Tensor, forward=None, precision: str = "fp32",
                           batch_size: int = 1000) -> None:
    """Batch norm's running statistics of `model` estimated afresh from `images` (the un-augmented training images),
    read through `forward` (a batch -> the model's outputs; default: `model` itself).

    During training they follow the augmented batches, while evaluation sees clean digits; this pass (forward only,
    about a quarter of an epoch) makes them those of clean digits. The weights do not change. The same procedure as
    `torch.optim.swa_utils.update_bn`, which calls the model with one input and without autocast."""
    forward = forward or model
    momenta = {m: m.momentum for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)}
    model.eval()  # dropout off ...
    for norm in momenta:  # ... batch norm collecting: a plain average over all batches (momentum None)
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    with autocast(images.device, precision):
        for i in range(0, len(images), batch_size):
            forward(images[i:i + batch_size])
    for norm, momentum in momenta.items():
        norm.momentum = momentum
    model.eval()


def batch_sizes(n: int, batch_size: int) -> list[int]:
    """The sizes of an epoch's batches over `n` items: full batches, then the remainder."""
    return [min(batch_size, n - start) for start in range(0, n, batch_size)]


__all__ = ["epoch_generator", "SCHEDULES", "make_optimizer", "epoch_loss", "recalibrate_batch_norm", "batch_sizes"]
