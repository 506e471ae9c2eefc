"""MNIST addition's figures: pairs with their sums, a run's accuracy per epoch, the learned cell, and sum accuracy
against N beside the published table. Each returns the matplotlib Figure and saves it under `image_dir` when given."""
from __future__ import annotations

import statistics

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..mnist_addition.recipes import RECIPES
from ..mnist_addition.published import PUBLISHED, composed
from ..mnist_addition.results import beyond_shared
from .digit_and_sum import RIGHT, WRONG, save


def number_strip(images: torch.Tensor, std: float, mean: float) -> np.ndarray:
    """(N, 1, 28, 28) normalized digit images side by side: one 28 x 28N picture of the number."""
    return torch.cat(list((images[:, 0] * std + mean).clamp(0, 1).cpu()), 1).numpy()


def plot_addition_pairs(data, indices, predicted=None, image_dir=None, name: str = "addition_pairs", shown: int = 8):
    """Evaluation pairs as the network sees them: both numbers' images, the true sum and, if given, the predicted
    one (green: right, red: wrong). Numbers longer than `shown` digits are cut after their first `shown`."""
    indices = list(indices)
    fig, axes = plt.subplots(len(indices), 1, figsize=(min(12, 1.3 + 0.55 * 2 * min(data.digits, shown)),
                                                       0.9 * len(indices) + 0.3), squeeze=False)
    for ax, i in zip(axes[:, 0], indices):
        pair = data.eval_pairs[i].cpu()
        a, b = (number_strip(data.eval_x.cpu()[pair[n, :shown]], data.std, data.mean) for n in (0, 1))
        gap = np.ones((28, 14))
        ax.imshow(np.concatenate([a, gap, b], 1), cmap="gray")
        truth = "".join(map(str, data.eval_sums[i].tolist())).lstrip("0") or "0"
        title = f"sum {truth}" if len(truth) <= 20 else f"sum {truth[:18]}… ({len(truth)} digits)"
        color = "black"
        if predicted is not None:
            right = bool((predicted[i] == data.eval_sums[i].cpu()).all())
            title, color = f"{title}; predicted {'right' if right else 'wrong'}", RIGHT if right else WRONG
        ax.set_title(title, fontsize=8, color=color, loc="left")
        ax.axis("off")
    fig.tight_layout()
    return save(fig, image_dir, name)


def plot_addition_history(history: list, eval_name: str = "test", image_dir=None):
    """Sum accuracy and the perception's digit accuracy per epoch, and the training loss, -log P(sum)."""
    epochs = [h["epoch"] for h in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.2))
    loss_ax.plot(epochs, [h["train_loss"] for h in history], "o-")
    loss_ax.set(xlabel="epoch", ylabel="-log P(sum), mean over pairs", yscale="log", title="Training loss")
    acc_ax.plot(epochs, [100 * h["sum_acc"] for h in history], "o-", label="sum (exact match)")
    if history[0]["digit_acc"] is not None:
        acc_ax.plot(epochs, [100 * h["digit_acc"] for h in history], "o-", label="digit (labels never trained on)")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{eval_name.capitalize()} pairs")
    acc_ax.legend()
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save(fig, image_dir, "addition_history")


def plot_learned_cell(report: dict, image_dir=None):
    """The learned cell in digits: for carry in 0 and 1, the sum digit it answers for each (a, b), red where it is
    not a + b + carry's last digit or its carry out is wrong."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    cells = {(a, b, c): (s, out) for a, b, c, s, out in report["table"]}
    for carry, ax in enumerate(axes):
        grid = np.array([[cells[a, b, carry][0] for b in range(10)] for a in range(10)])
        ax.imshow(grid, cmap="Blues", vmin=-5, vmax=12)
        for a in range(10):
            for b in range(10):
                s, out = cells[a, b, carry]
                ok = (s, out) == ((a + b + carry) % 10, int(a + b + carry >= 10))
                ax.text(b, a, f"{s}{'·' if out else ''}", ha="center", va="center", fontsize=8,
                        color="black" if ok else WRONG, fontweight="normal" if ok else "bold")
        ax.set(xticks=range(10), yticks=range(10), xlabel="digit b", ylabel="digit a", title=f"carry in {carry}")
    fig.suptitle(f"The learned cell in digits: sum digit (· carry out); {report['right']} of {report['entries']} "
                 "entries are addition's (red: not)", fontsize=10)
    fig.tight_layout()
    return save(fig, image_dir, "learned_cell")


def current_rows(rows: list[dict], recipes: dict = RECIPES) -> list[dict]:
    """One row per method, perception and N: the one of the named recipe there as it is now (a row is a recipe and
    what it did beyond the shared training, so a recipe's earlier runs are rows of their own), else the row with the
    most seeds. The runs of earlier recipes stay in the summary's table, not in the figure. Two named recipes with runs
    at one (method, perception, N) would be two points on one line: a ValueError names them."""
    named = {}
    for name, params in recipes.items():
        extra = beyond_shared(params)
        named.setdefault((params["method"], params["perception"], params["digits"]), set()).add(
            f"{name} ({extra})" if extra else name)
    groups = {}
    for r in rows:
        groups.setdefault((r["method"], r["perception"], r["digits"]), []).append(r)
    chosen = []
    for key, group in groups.items():
        current = [r for r in group if r["config"] in named.get(key, set())]
        if len(current) > 1:
            raise ValueError(f"{' and '.join(r['config'] for r in current)} both have runs at {key}: the figure "
                             "would draw two points on one line")
        chosen.append(current[0] if current else max(group, key=lambda r: r["n"]))
    return chosen


def side_by_side(i: int, count: int, step: float) -> float:
    """The factor that moves the i-th of `count` series at one N apart from the others, on a log axis."""
    return 1 + step * (i - (count - 1) / 2)


def plot_addition_vs_n(rows: list[dict], frozen: dict[str, list[dict]] | None = None, image_dir=None):
    """Sum accuracy against N (log axis): ours per method and perception, each at its named recipe (mean, whiskers
    ± std over seeds), models trained at N = 2 and frozen (`frozen`: a label per study's `length_rows`, re-paired test
    sums, whiskers the 95 % interval of the mean), the published results (stars: the best at each N), and a digit
    classifier of 99.6 % composed exactly."""
    fig, ax = plt.subplots(figsize=(9, 5))
    ns = np.geomspace(1, 500, 60)
    ax.plot(ns, [100 * composed(n, 0.996) for n in ns], "k:", lw=1, label="0.996^(2N)")
    for i, (n, results) in enumerate(sorted(PUBLISHED.items())):
        ax.scatter([n] * len(results), [r[1] for r in results], marker="o", s=18, color="gray", alpha=0.6,
                   label="published" if i == 0 else None)
        ax.scatter([n], [results[0][1]], marker="*", s=140, color="gray", edgecolor="black", zorder=3,
                   label="best published" if i == 0 else None)
    series = {}
    for r in current_rows(rows):
        series.setdefault((r["method"], r["perception"]), []).append(r)
    for j, ((method, perception), points) in enumerate(sorted(series.items())):
        points = sorted(points, key=lambda r: r["digits"])
        stds = [statistics.stdev(r["sum_values"]) * 100 if len(r["sum_values"]) > 1 else 0 for r in points]
        shift = side_by_side(j, len(series), 0.03)
        ax.errorbar([r["digits"] * shift for r in points], [r["sum_mean"] for r in points], stds, fmt="o-",
                    capsize=3, color=f"C{j if j < 7 else j + 1}", label=f"{method}, {perception}")
    colors = ("crimson", "teal", "saddlebrown", "black", "gold", "darkviolet")
    frozen = frozen or {}
    for i, (label, lengths) in enumerate(frozen.items()):
        color = colors[i % len(colors)]
        means = [100 * statistics.mean(r["repaired"]) for r in lengths]
        errors = np.array([[m - 100 * r["interval"][0], 100 * r["interval"][1] - m] for m, r in zip(means, lengths)]).T
        shift = side_by_side(i, len(frozen), 0.02)  # whiskers apart where the lines meet
        ax.errorbar([r["digits"] * shift for r in lengths], means, errors, fmt="s-", lw=2, capsize=3, color=color,
                    label=label)
    ax.set(xscale="log", xlabel="N (digits per number)", ylabel="sum accuracy (%)", ylim=(-2, 101),
           title="MNIST addition: exact-match sum accuracy against N")
    ax.set_xticks(sorted(PUBLISHED), [str(n) for n in sorted(PUBLISHED)])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="lower left")
    fig.tight_layout()
    return save(fig, image_dir, "mnist_addition")


__all__ = ["number_strip", "plot_addition_pairs", "plot_addition_history", "plot_learned_cell", "current_rows",
           "side_by_side", "plot_addition_vs_n"]
