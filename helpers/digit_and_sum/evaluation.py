"""Evaluation: a model's logits for (image, number) pairs on its own device, accuracies on the fixed evaluation pairs,
and the exhaustive evaluation (every image with every number, held-out pairs apart, the numbers training never draws)."""
from __future__ import annotations

import torch

from ..core.device import model_device
from .encoding import NUMBER_BITS, bits_to_int, decode_outputs, int_to_bits, invalid_codes, output_loss
from .heads import CELL_INPUTS, FULL_ADDER
from .pairs import FIXED_HOLDOUT, held_out_pairs
from .sampler import RandomSampler

EVAL_NUMBERS_SEED = 2024  # every run pairs the evaluation images with the same numbers


def eval_numbers(n: int) -> torch.Tensor:
    """The fixed number (0..9) paired with each of `n` evaluation images, the same in every run."""
    return bits_to_int(RandomSampler(n, seed=EVAL_NUMBERS_SEED, dataset_size=n).getRandomBatch())


@torch.no_grad()
def pair_logits(model, images: torch.Tensor, numbers: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """The model's logits for (image, number) pairs, in batches, on the model's device and in its weights' float (an
    fp64 run's model reads float64 images), in eval mode."""
    model.eval()
    device, weight = model_device(model), next(model.parameters(), None)
    images = images.to(device, weight.dtype if weight is not None else images.dtype)
    numbers = numbers.to(device)
    return torch.cat([model(images[i:i + batch_size], int_to_bits(numbers[i:i + batch_size], NUMBER_BITS, check=False))
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
    pairs; by default the fixed 10 of FIXED_HOLDOUT, for comparison) against the others: joint and sum accuracy and
    `sum_given_digit`, the sum's accuracy over the images whose digit was read right (the arithmetic alone), each the
    mean over the pairs. For a head with a learned cell, the cell's answers (`cell_metrics`).
    """
    digits = digits.cpu()
    pred_digits, pred_sums = zip(*((r["pred_digits"], r["pred_sums"]) for r in (
        evaluate(model, images, digits, torch.full_like(digits, number)) for number in range(10))))
    pred_digits, pred_sums = torch.stack(pred_digits), torch.stack(pred_sums)  # (number, image)
    numbers = torch.arange(10).unsqueeze(1)
    digit_ok, sum_ok = pred_digits == digits, pred_sums == digits + numbers
    by_pair, joint_by_pair, given_digit = torch.zeros(10, 10), torch.zeros(10, 10), torch.zeros(10, 10)
    for digit in range(10):
        by_pair[digit] = sum_ok[:, digits == digit].float().mean(1)
        joint_by_pair[digit] = (digit_ok & sum_ok)[:, digits == digit].float().mean(1)
        # the arithmetic alone: the sum over the images whose digit was read right (none read right: no value)
        read = digit_ok[:, digits == digit]
        given_digit[digit] = (read & sum_ok[:, digits == digit]).sum(1) / read.sum(1)
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
        **{part: {"joint_acc": joint_by_pair[mask].mean().item(), "sum_acc": by_pair[mask].mean().item(),
                  "sum_given_digit": given_digit[mask].nanmean().item()}
           for part, mask in (("heldout_pairs", held), ("seen_pairs", ~held))},
        "unseen_numbers": unseen_numbers(model, images, digits),
        **cell_metrics(model),
    }


def cell_metrics(model) -> dict:
    """For a head with a learned cell (`ADDER_HEADS`): its answers on its 8 exact inputs (`cell`: probabilities of the
    sum bit and the carry out, per cell) and `cell_exact`, whether every answer is on the full adder's side of 0.5.
    Empty for the other heads."""
    head = getattr(model, "head", None)
    if not hasattr(head, "truth_table"):
        return {}
    table = head.truth_table()
    return {"cell": {"inputs": CELL_INPUTS.int().tolist(), "outputs": table.tolist()},
            "cell_exact": bool(((table > 0.5) == (FULL_ADDER > 0.5)).all())}


__all__ = ["EVAL_NUMBERS_SEED", "eval_numbers", "pair_logits", "evaluate", "ACCURACIES", "UNSEEN_NUMBERS",
           "unseen_numbers", "evaluate_exhaustive", "cell_metrics"]
