"""What both tasks' training loops are built from: seeded epochs, the optimizer and its schedule, one step, and
the epoch's mean loss."""
from __future__ import annotations

import torch

from .device import to_device


def epoch_seed(seed: int, epoch: int) -> int:
    """Each epoch draws all its randomness from its own seed, so a resumed run repeats exactly."""
    return seed * 1_000 + epoch


def seed_epoch(seed: int, epoch: int) -> torch.Generator:
    """The epoch's CPU generator (the order and every other draw of the epoch) and torch's global seed (dropout),
    both from `epoch_seed`."""
    torch.manual_seed(epoch_seed(seed, epoch))
    return torch.Generator().manual_seed(epoch_seed(seed, epoch))


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


def optimizer_step(loss: torch.Tensor, optimizer, scheduler) -> torch.Tensor:
    """Backpropagate `loss`, step the optimizer and its schedule; returns the loss, detached (left on the device)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    return loss.detach()


def epoch_loss(losses: list[torch.Tensor], sizes: list[int]) -> torch.Tensor:
    """The epoch's loss: each step's mean loss weighted by its samples (a last, smaller batch counts for less), a
    0-dim float64 tensor on the steps' device (the caller reads it when it wants)."""
    weights = to_device(torch.tensor(sizes, dtype=torch.float64), losses[0].device)
    return (torch.stack(losses).double() * weights).sum() / sum(sizes)


__all__ = ["epoch_seed", "seed_epoch", "SCHEDULES", "make_optimizer", "optimizer_step", "epoch_loss"]
