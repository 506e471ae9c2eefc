"""Training and evaluation: one seeded epoch, augmentation, held-out pairs, batch-norm recalibration, evaluation,
the exhaustive evaluation."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import shifts
from .device import autocast, model_device
from .data import MNISTData
from .sampler import NUMBER_BITS, RandomSampler, bits_to_int, int_to_bits
from .encoding import decode_outputs, invalid_codes, output_loss


EVAL_NUMBERS_SEED = 2024  # every run pairs the evaluation images with the same numbers


def eval_numbers(n: int) -> torch.Tensor:
    """The fixed number (0..9) paired with each of `n` evaluation images, the same in every run."""
    return bits_to_int(RandomSampler(n, seed=EVAL_NUMBERS_SEED, dataset_size=n).getRandomBatch())


def random_affine(images: torch.Tensor, generator: torch.Generator, background: float,
                  degrees: float = 10.0, shift: float = 2.0, scale: float = 0.1) -> torch.Tensor:
    """Rotate, scale and shift each image of a normalized batch at random, filling with `background`."""
    u = (torch.rand(len(images), 4, generator=generator) * 2 - 1).to(images.device)  # drawn on the CPU: same on every device
    angle, zoom = u[:, 0] * math.radians(degrees), 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    offsets = u[:, 2:] * shift * 2 / images.shape[-1]  # pixels -> affine_grid's [-1, 1] units
    theta = torch.stack([torch.stack([cos, -sin, offsets[:, 0]], 1), torch.stack([sin, cos, offsets[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images - background, grid, align_corners=False) + background


def robust_augment(images: torch.Tensor, generator: torch.Generator, mean: float, std: float,
                   clean: float = 0.4, no_digit: float = 0.03) -> tuple[torch.Tensor, torch.Tensor]:
    """`augment="robust"`: each image of a normalized batch stays as it is (`clean` of them) or gets one
    corruption drawn at random, and `no_digit` of them are replaced by an image without a digit (blank,
    noise, a gradient), to be trained towards "don't know" (see `output_loss`). Returns the images and the
    mask of the no-digit ones.

    The corruptions: rotation up to 50°, scale 0.45-1.1, a shift up to 7 px (half the images) and a shear
    up to 40° along x and along y (each for half the images); thinner or thicker strokes; Gaussian blur
    (sigma 0.5-2.5) or a resolution of 7-16 px (one value per batch); black ink on a light background; a
    brightness gradient; Gaussian noise; a black box of 2-9 px or a black line 1-4 px wide. Shot and
    impulse noise and elastic distortion are left out on purpose: the robustness benchmark measures them
    (and printed fonts) as shifts the model was never trained against (README, "Digits from outside MNIST").
    """
    n, device = len(images), images.device
    cpu_rand = lambda *shape: torch.rand(*shape, generator=generator)  # drawn on the CPU, as everywhere
    rand = lambda *shape: cpu_rand(*shape).to(device)
    x = (images * std + mean).clamp(0, 1)
    # Every draw for every image first, in a fixed order, so an image's corruption does not depend on the others'.
    r, angle, per_batch = rand(n, 4), rand(n) * 2 * math.pi, torch.rand(3, generator=generator).tolist()
    distance = rand(n) * 7 * (r[:, 2] < 0.5)
    corners, sizes = (rand(n, 2, 1) * 20).long(), 2 + (rand(n, 2, 1) * 8).long()
    thinning, contrast, gradient, gradient_angle = rand(n, 1, 1, 1), rand(n, 1, 1, 1), rand(n, 1, 1, 1), rand(n, 1, 1, 1)
    noise, noise_level = torch.randn(x.shape, generator=generator).to(device), rand(n, 1, 1, 1)
    shear = (rand(2, n) * 2 - 1) * 40 * (rand(2, n) < 0.5)
    line = rand(n) < 0.5  # a line instead of a box
    line_angle, line_offset, line_width = rand(n, 1, 1, 1) * math.pi, (rand(n, 1, 1, 1) - 0.5) * 28 / 3, 1 + 3 * rand(n, 1, 1, 1)
    corruptions = [  # each on the images i that drew it
        lambda i: shifts.affine(x[i], rotate=(r[i, 0] * 2 - 1) * 50, zoom=0.45 + r[i, 1] * 0.65,
                                shear_x=shear[0, i], shear_y=shear[1, i],
                                shift_x=distance[i] * torch.cos(angle[i]), shift_y=distance[i] * torch.sin(angle[i])),
        lambda i: torch.where(r[i, 3, None, None, None] < 0.5, shifts.thinner(x[i], thinning[i], generator),
                              shifts.thicker(x[i], 2 + int(per_batch[0] * 3), generator)),
        lambda i: shifts.blur(x[i], 0.5 + 2 * per_batch[1], generator),
        lambda i: shifts.low_resolution(x[i], 7 + int(per_batch[2] * 10), generator),
        lambda i: shifts.inverted(x[i], 0.4 + 0.6 * contrast[i], generator),
        lambda i: shifts.uneven_background(x[i], 0.8 * gradient[i], generator, angles=gradient_angle[i] * 2 * math.pi),
        lambda i: (x[i] + noise[i] * 0.35 * noise_level[i]).clamp(0, 1),
        lambda i: x[i].masked_fill(torch.where(
            line[i, None, None, None], shifts.line_mask(line_angle[i], line_offset[i], line_width[i]),
            shifts.box_mask(corners[i], sizes[i])), 0.0),
    ]
    choice = (cpu_rand(n) * len(corruptions)).long()
    corrupt = cpu_rand(n) >= clean
    out = x.clone()
    for k, corruption in enumerate(corruptions):
        i = torch.nonzero(corrupt & (choice == k))[:, 0].to(device)  # indices found on the CPU: no device sync
        if len(i):
            out[i] = corruption(i)
    unknown = rand(n) < no_digit
    blank = rand(n, 1, 1, 1) * torch.where(rand(n, 1, 1, 1) < 0.5, rand(*x.shape),
                                           shifts.uneven_background(torch.zeros_like(x), 1.0, generator))
    out = torch.where(unknown[:, None, None, None], blank, out)
    return (out - mean) / std, unknown


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
    seeded CPU generators, so a seed means the same data on every device; the only host syncs are
    the log lines.
    """
    n, batch_size, device = len(data.train_x), config.batch_size, data.train_x.device
    generator = torch.Generator().manual_seed(epoch_seed(config.seed, epoch))
    torch.manual_seed(epoch_seed(config.seed, epoch))  # dropout
    order = torch.randperm(n, generator=generator).to(device)
    sampler = RandomSampler(batch_size, seed=int(torch.randint(2**62, (1,), generator=generator)), dataset_size=n)
    background = (0 - data.mean) / data.std
    held = held_out_pairs(config.holdout, config.seed).to(device) if config.holdout else None
    model.train()
    losses, logged = [], []
    for batch_idx in range(len(sampler)):
        idx = order[batch_idx * batch_size:(batch_idx + 1) * batch_size]
        images, unknown = data.train_x[idx], None
        if config.augment:
            images = random_affine(images, generator, background)
        if config.augment == "robust":
            images, unknown = robust_augment(images, generator, data.mean, data.std)
        digits, number_bits = data.train_y[idx], sampler.getRandomBatch().to(device)
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
    """Loss and digit / sum / joint accuracy of `model` on (image, number) pairs, with its predictions.

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
        "test_loss": loss,
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


__all__ = ["EVAL_NUMBERS_SEED", "eval_numbers", "random_affine", "robust_augment", "FIXED_HOLDOUT", "MAX_HOLDOUT",
           "held_out_pairs", "allowed_numbers", "epoch_seed", "train_epoch", "recalibrate_batch_norm", "pair_logits",
           "evaluate", "ACCURACIES", "UNSEEN_NUMBERS", "unseen_numbers", "evaluate_exhaustive"]
