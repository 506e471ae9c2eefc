"""Length generalization: a model trained at one N, frozen, adds numbers of other lengths.

Each evaluation image's class is read once (the perception's argmax, in eval mode, where a class does not depend on
the batch), and a sum of any length is the model's own program applied to those classes (`AdditionModel.add`:
exact addition, or the learned table). Predicting reads no label; the labels only score the predictions. Two test
sets per N: the protocol's (`protocol_pairs`: the pairs a run at that N with the same seed is evaluated on,
⌊10,000 / 2N⌋ of them: 10 at N = 500) and `repairings` of the same images, each image used at most once per
re-pairing, enough re-pairings for at least `min_sums` sums, deterministic per seed.
"""
from __future__ import annotations

import math
import statistics

import torch

from ..core.stats import wilson
from .data import AdditionData, addition_pairs, protocol_pairs, sum_digits
from .evaluation import read_digits
from .model import AdditionModel

MIN_SUMS = 2000
REPAIRING_SEED = 1_000_003  # the re-pairings' generator is seeded with seed + this, apart from the protocol's


def repairings(n_images: int, digits: int, seed: int, min_sums: int = MIN_SUMS) -> torch.Tensor:
    """(R, P, 2, N) image indices: R independent shuffles of the `n_images` images, each cut into P = ⌊n / 2N⌋ pairs
    of N-digit numbers as the protocol cuts them (each image at most once per re-pairing), R just enough for R * P >=
    `min_sums`. The same for the same seed."""
    per = n_images // (2 * digits)
    if per == 0:
        raise ValueError(f"{n_images} images make no pair of {digits}-digit numbers")
    generator = torch.Generator().manual_seed(seed + REPAIRING_SEED)
    return torch.stack([addition_pairs(n_images, digits, generator) for _ in range(math.ceil(min_sums / per))])


def image_classes(model: AdditionModel, images: torch.Tensor) -> torch.Tensor:
    """The perception's class for each image (M,), on the CPU: what `AdditionModel.predict` reads, one image at a
    time."""
    return model.digit_logits(images).argmax(-1).cpu()


def predicted_sums(model: AdditionModel, classes: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """The model's sums (..., N + 1) for `pairs` (..., 2, N) of images whose classes are `classes`: no label read."""
    flat = pairs.reshape(-1, *pairs.shape[-2:])
    return model.add(classes[flat]).view(*pairs.shape[:-2], -1)


def sums_right(model: AdditionModel, classes: torch.Tensor, labels: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Whether each of `pairs`' predicted sums is the true one, every digit (a bool per pair)."""
    return (predicted_sums(model, classes, pairs) == sum_digits(labels[pairs])).all(-1)


def evaluate_lengths(model: AdditionModel, data: AdditionData, seed: int, lengths: tuple,
                     min_sums: int = MIN_SUMS, log=print) -> dict:
    """The frozen `model` at every N of `lengths`, on `data`'s evaluation images (`data` prepared as the run was:
    its seed and split): per N, the protocol's sum accuracy and pairs, the re-pairings' sum accuracy over all their
    sums with its 95 % Wilson interval, and the matched digit accuracy composed over 2N digits. Also the digits read
    (`read_digits`, labels read only here, after training)."""
    if model.method == "neural":
        raise ValueError("the neural baseline has no program to apply at another N")
    classes, labels = image_classes(model, data.eval_x), data.eval_digits.cpu()
    digits = read_digits(classes, labels)
    out = {"trained_digits": model.digits, "seed": seed, "eval_set": data.eval_name, "images": len(labels),
           "digit_acc": digits["digit_acc"], "matched_digit_acc": digits["matched_digit_acc"], "lengths": {}}
    for n in lengths:
        protocol = sums_right(model, classes, labels, protocol_pairs(len(data.train_x), len(labels), n, seed)[1])
        repaired = sums_right(model, classes, labels, repairings(len(labels), n, seed, min_sums))
        right, total = int(repaired.sum()), repaired.numel()
        out["lengths"][str(n)] = {"protocol_sum_acc": protocol.float().mean().item(), "protocol_pairs": len(protocol),
                                  "repaired_sum_acc": right / total, "repaired_sums": total,
                                  "repairings": repaired.shape[0], "repaired_interval": wilson(right, total),
                                  "composed": digits["matched_digit_acc"] ** (2 * n)}
        log(f"N = {n}: protocol {protocol.float().mean():.2%} of {len(protocol)}; re-paired {right / total:.2%} of "
            f"{total}")
    return out


def length_rows(runs: list[dict]) -> list[dict]:
    """Per N over the runs' lengths.json: the protocol's and the re-pairings' sum accuracy (fractions, one per run),
    the 95 % t-interval of the re-paired mean over the runs, and the matched digit accuracy composed."""
    rows = []
    for n in runs[0]["lengths"]:
        per_run = [r["lengths"][n] for r in runs]
        protocol, repaired = [p["protocol_sum_acc"] for p in per_run], [p["repaired_sum_acc"] for p in per_run]
        half = (t_quantile(len(runs) - 1) * statistics.stdev(repaired) / math.sqrt(len(runs))) if len(runs) > 1 else 0.0
        rows.append({"digits": int(n), "protocol": protocol, "repaired": repaired,
                     "protocol_pairs": per_run[0]["protocol_pairs"], "repaired_sums": per_run[0]["repaired_sums"],
                     "interval": (statistics.mean(repaired) - half, statistics.mean(repaired) + half),
                     "composed": statistics.mean(p["composed"] for p in per_run)})
    return rows


def t_quantile(df: int) -> float:
    """Student's t at 0.975 with `df` degrees of freedom (a 95 % two-sided interval)."""
    from scipy.stats import t
    return float(t.ppf(0.975, df))


__all__ = ["MIN_SUMS", "REPAIRING_SEED", "repairings", "image_classes", "predicted_sums", "sums_right",
           "evaluate_lengths", "length_rows", "t_quantile"]
