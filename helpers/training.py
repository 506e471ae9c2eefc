"""Training and evaluation: one seeded epoch (augmented by `helpers.augment`), held-out pairs, batch-norm
recalibration, evaluation, the exhaustive evaluation."""
from __future__ import annotations

import torch

from .augment import random_affine, robust_augment, to_device
from .device import autocast, model_device
from .data import MNISTData
from .sampler import RandomSampler
from .encoding import NUMBER_BITS, bits_to_int, decode_outputs, int_to_bits, invalid_codes, output_loss


EVAL_NUMBERS_SEED = 2024  # every run pairs the evaluation images with the same numbers


def eval_numbers(n: int) -> torch.Tensor:
    """The fixed number (0..9) paired with each of `n` evaluation images, the same in every run."""
    return bits_to_int(RandomSampler(n, seed=EVAL_NUMBERS_SEED, dataset_size=n).getRandomBatch())


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


def train_epoch(model, data: MNISTData, optimizer, scheduler, epoch: int, config, log=print) -> tuple[float, list]:
    """One pass over the training images in a seeded random order; returns mean loss and the logged losses.

    The data lives on the model's device. The order, the numbers and the augmentation are drawn from
    seeded CPU generators, so a seed means the same data on every device, and reach the device through
    `to_device` (non-blocking); the host waits for the device only at the log lines and at the epoch's end.
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
            images = random_affine(images, generator, background)
        if config.augment == "robust":
            images, unknown = robust_augment(images, generator, data.mean, data.std)
        digits, number_bits = data.train_y[idx], to_device(sampler.getRandomBatch(), device)
        numbers = bits_to_int(number_bits)
        if config.holdout:  # never train on a held-out pair: take the next number instead
            numbers = allowed_numbers(numbers, digits, held)
            number_bits = int_to_bits(numbers, NUMBER_BITS)
        with autocast(device, config.precision):
            logits = model(images, number_bits)
        loss = output_loss(model.encoding, logits.float(), digits, numbers, unknown,  # the loss in fp32
                           config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.detach())
        if batch_idx % config.log_interval == 0:
            logged.append({"epoch": epoch, "batch": batch_idx, "seen": batch_idx * batch_size, "loss": loss.item()})
            log(f"Train Epoch: {epoch} [{batch_idx * batch_size}/{n} "
                f"({100 * batch_idx / len(sampler):.0f}%)]\tLoss: {loss.item():.6f}")
    sizes = [min(batch_size, n - i * batch_size) for i in range(len(losses))]
    return sum(loss * size for loss, size in zip(torch.stack(losses).tolist(), sizes)) / n, logged


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


@torch.no_grad()
def pair_logits(model, images: torch.Tensor, numbers: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """The model's logits for (image, number) pairs, in batches, on the model's device, in eval mode."""
    model.eval()
    device = model_device(model)
    images, numbers = images.to(device), numbers.to(device)
    return torch.cat([model(images[i:i + batch_size], int_to_bits(numbers[i:i + batch_size], NUMBER_BITS))
                      for i in range(0, len(images), batch_size)])


@torch.no_grad()
def evaluate(model, images: torch.Tensor, digits: torch.Tensor, numbers: torch.Tensor, batch_size: int = 1000) -> dict:
    """Loss (unsmoothed) and digit / sum / joint accuracy of `model` on (image, number) pairs, with its predictions.

    Invalid output codes (digit 10..15, sum 19..31) can never match a target, so they count as
    wrong; `invalid` says how many predictions had one.
    """
    logits = pair_logits(model, images, numbers, batch_size)
    digits, numbers = digits.to(logits.device), numbers.to(logits.device)
    loss = output_loss(model.encoding, logits, digits, numbers).item()
    pred_digits, pred_sums = decode_outputs(model.encoding, logits)
    digit_ok, sum_ok = pred_digits == digits, pred_sums == digits + numbers
    n, correct = len(digits), (digit_ok & sum_ok).sum().item()
    return {
        "loss": loss,
        "digit_acc": digit_ok.sum().item() / n,
        "sum_acc": sum_ok.sum().item() / n,
        "joint_acc": correct / n,
        "correct": correct,
        "invalid": invalid_codes(pred_digits, pred_sums).sum().item(),
        "pred_digits": pred_digits.cpu(),
        "pred_sums": pred_sums.cpu(),
    }


ACCURACIES = ("digit_acc", "sum_acc", "joint_acc")
UNSEEN_NUMBERS = tuple(range(10, 16))  # the 4 number bits can carry them; the sampler never draws them


@torch.no_grad()
def unseen_numbers(model, images: torch.Tensor, digits: torch.Tensor) -> dict:
    """Every evaluation image with every number 10..15, none of which training ever draws: joint and sum
    accuracy (the sum 10..24 fits the 5 sum bits; the one-hot and softmax codes cannot name a sum above 18)."""
    digits = digits.cpu()
    joint = total = 0
    for number in UNSEEN_NUMBERS:
        pred_digits, pred_sums = decode_outputs(model.encoding, pair_logits(model, images, torch.full_like(digits, number)))
        sum_ok = pred_sums.cpu() == digits + number
        joint += (sum_ok & (pred_digits.cpu() == digits)).sum().item()
        total += sum_ok.sum().item()
    pairs = len(digits) * len(UNSEEN_NUMBERS)
    return {"joint_acc": joint / pairs, "sum_acc": total / pairs, "numbers": list(UNSEEN_NUMBERS)}


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
        "unseen_numbers": unseen_numbers(model, images, digits),
    }


__all__ = ["EVAL_NUMBERS_SEED", "eval_numbers", "FIXED_HOLDOUT", "MAX_HOLDOUT",
           "held_out_pairs", "allowed_numbers", "epoch_seed", "train_epoch", "recalibrate_batch_norm", "pair_logits",
           "evaluate", "ACCURACIES", "UNSEEN_NUMBERS", "unseen_numbers", "evaluate_exhaustive"]
