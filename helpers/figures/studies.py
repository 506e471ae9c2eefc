"""Figures of the experiments notebook (notebooks/experiments.ipynb): runs per epoch, the held-out pairs and the
curve against them, the fresh draws, the learned full adder's cell, the robustness benchmark.

Each function draws one figure from committed results (or a model), saves it as PNG under `image_dir` (when given)
and returns the matplotlib Figure so the notebook shows it.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..core.device import model_device
from ..core.stats import wilson
from ..digit_and_sum.heads import CELL_INPUTS, FULL_ADDER, HEADS
from ..studies.holdout import covers, curve_groups
from .digit_and_sum import WRONG, save


def plot_runs_per_epoch(groups: dict, name: str, image_dir=None, key: str = "joint_acc"):
    """Mean (line) and min-max (band) over seeds of an accuracy per epoch, one line per configuration."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for config, runs in groups.items():
        values = torch.tensor([[h[key] for h in r["history"]] for r in runs]) * 100
        epochs = range(1, values.shape[1] + 1)
        ax.plot(epochs, values.mean(0), "o-", label=f"{config} (n={len(runs)})")
        ax.fill_between(epochs, values.min(0).values, values.max(0).values, alpha=0.2)
    ax.axhline(99, color="gray", ls=":", lw=1)
    ax.set(xlabel="epoch", ylabel=f"{key.replace('_acc', '')} accuracy (%)", ylim=(97, 100),
           title="Test accuracy per epoch (dotted: 99%)")
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, image_dir, name)


# Each output encoding's two configurations: trained on all 100 pairs, and with the fixed 10 held out.
ENCODING_RUNS = {"binary": ("default", "binary-holdout"), "onehot": ("onehot", "onehot-holdout"),
                 "softmax": ("softmax", "softmax-holdout")}


def plot_holdout(groups: dict, image_dir=None):
    """Joint accuracy on the 10 held-out pairs and the other 90, trained with and without them, per output encoding."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    encodings = [e for e, names in ENCODING_RUNS.items() if any(n in groups for n in names)]
    for i, encoding in enumerate(encodings):
        for j, (config, label) in enumerate(zip(ENCODING_RUNS[encoding], ("trained on all 100 pairs",
                                                                          "10 pairs held out"))):
            for k, (part, hatch) in enumerate((("heldout_pairs", "//"), ("seen_pairs", ""))):
                runs = groups.get(config, [])
                if not runs:
                    continue
                values = [100 * r["exhaustive"][part]["joint_acc"] for r in runs]
                x = i * 5 + j * 2 + k
                ax.bar(x, sum(values) / len(values), color=f"C{j}", hatch=hatch, edgecolor="white",
                       label=f"{label}: {'the 10 pairs' if k == 0 else 'other 90'}" if i == 0 else None)
                ax.plot([x] * len(values), values, "k.", ms=4)
    ax.set_xticks([i * 5 + 1.5 for i in range(len(encodings))], [f"{e} outputs" for e in encodings])
    low = min(100 * r["exhaustive"][p]["joint_acc"] for names in ENCODING_RUNS.values() for c in names
              for r in groups.get(c, []) for p in ("heldout_pairs", "seen_pairs"))
    ax.set(ylabel="joint accuracy (%)", ylim=(max(0, low - 2), 100), title="Held-out (digit, number) pairs vs the rest")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(alpha=0.3, axis="y")
    return save(fig, image_dir, "holdout")


def plot_holdout_curve(groups: dict, image_dir=None):
    """Does it learn addition? Left: joint accuracy on the pairs never trained on against k pairs held out, one line
    per head (binary code, number bits; band: ± std over seeds; dotted: the seen pairs), thin lines for the other
    output encodings and markers for the number-input ablation (mlp head). Right: every test image with the numbers
    10-15 that training never draws, per head. Runs: the `<name>-k<k>` configurations."""
    series = {}  # (head, encoding, number_input) -> {k: [runs]}
    for runs in curve_groups(groups).values():
        p = runs[0]["params"]
        series.setdefault((p["head"], p["encoding"], p["number_input"]), {})[p["holdout"]] = runs

    def stats(by_k, value):
        ks = sorted(by_k)
        values = [torch.tensor([100 * value(r) for r in by_k[k]]) for k in ks]
        return (ks, torch.stack([v.mean() for v in values]),
                torch.stack([v.std() if len(v) > 1 else torch.tensor(0.0) for v in values]))

    fig, (held_ax, unseen_ax) = plt.subplots(1, 2, figsize=(12, 5.2), width_ratios=(1.6, 1))
    heads = [key for key in series if key[1:] == ("binary", "bits")]
    for i, key in enumerate(sorted(heads, key=lambda key: list(HEADS).index(key[0]))):
        color, by_k = f"C{i}", series[key]
        ks, mean, std = stats(by_k, lambda r: r["exhaustive"]["heldout_pairs"]["joint_acc"])
        held_ax.plot(ks, mean, "o-", color=color, lw=2, label=f"head {key[0]}")
        held_ax.fill_between(ks, mean - std, mean + std, color=color, alpha=0.2)
        ks, mean, _ = stats(by_k, lambda r: r["exhaustive"]["seen_pairs"]["joint_acc"])
        held_ax.plot(ks, mean, ":", color=color)
        with_unseen = {k: runs for k, runs in by_k.items() if all("unseen_numbers" in r["exhaustive"] for r in runs)}
        if with_unseen:
            ks, mean, std = stats(with_unseen, lambda r: r["exhaustive"]["unseen_numbers"]["joint_acc"])
            unseen_ax.errorbar(ks, mean, std, fmt="o-", color=color, capsize=3, label=f"head {key[0]}")
    others = [key for key in series if key not in heads]
    for j, key in enumerate(sorted(others)):
        ks, mean, _ = stats(series[key], lambda r: r["exhaustive"]["heldout_pairs"]["joint_acc"])
        held_ax.plot(ks, mean, "x-" if key[2] == "bits" else "s", color="gray", alpha=0.5, lw=1, ms=4,
                     label=("mlp head, other codes (one-hot, softmax; number one-hot or scalar)" if j == 0 else None))
    held_ax.plot([], [], "k:", label="dotted: the seen pairs")
    held_ax.set(xlabel="k of the 100 (digit, number) pairs held out of training", ylabel="joint accuracy (%)",
                title="Pairs never trained on (every test image)", ylim=(-2, 101))
    held_ax.legend(fontsize=9, loc="center right")
    unseen_ax.set(xlabel="k pairs held out", ylabel="joint accuracy (%)", ylim=(-2, 101),
                  title="Numbers 10-15, never drawn in training")
    unseen_ax.legend(fontsize=8)
    for ax in (held_ax, unseen_ax):
        ax.grid(alpha=0.3)
    fig.suptitle("Does it learn addition? Mean over seeds 1-3")
    fig.tight_layout()
    return save(fig, image_dir, "holdout_curve")


def plot_draws(groups: dict, image_dir=None, least: int = 10):
    """Fresh draws: per configuration with `least` runs or more, the rate of exact cells (left) and of held-out joint
    accuracy >= 99 % (right), over the draws that show the cell three 1s and those that do not, each with its 95 %
    Wilson interval."""
    configs = [c for c, runs in groups.items() if len(runs) >= least and "coverage" in runs[0]["exhaustive"]]
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.55 * len(configs) + 1.8), sharey=True)
    for ax, (title, value) in zip(axes, (("exact cell", lambda r: r["exhaustive"].get("cell_exact")),
                                         ("held-out joint accuracy ≥ 99 %",
                                          lambda r: r["exhaustive"]["heldout_pairs"]["joint_acc"] >= 0.99))):
        for offset, (label, keep, color) in zip((-0.15, 0.15), (("draws that show three 1s", covers, "C0"),
                                                               ("draws that never do", lambda r: not covers(r), "C3"))):
            for y, config in enumerate(configs):
                values = [value(r) for r in groups[config] if keep(r) and value(r) is not None]
                if not values:
                    continue
                low, high = wilson(sum(values), len(values))
                ax.errorbar(100 * sum(values) / len(values), y + offset, xerr=[[100 * (sum(values) / len(values) - low)],
                            [100 * (high - sum(values) / len(values))]], fmt="o", color=color, capsize=3,
                            label=label if y == 0 else None)
                ax.annotate(f"{sum(values)}/{len(values)}", (100 * high, y + offset), xytext=(4, -3),
                            textcoords="offset points", fontsize=7, color=color)
        ax.set(xlim=(-5, 112), title=title, xlabel="rate over the draws (%), 95 % Wilson interval")
        ax.grid(alpha=0.3, axis="x")
    def named(config: str) -> str:  # "symadder-k70" -> "symadder, 70 held out"
        head, _, k = config.rpartition("-k")
        return f"{head}, {k} held out" if k.isdigit() else config
    axes[0].set_yticks(range(len(configs)), [named(c) for c in configs])
    axes[0].invert_yaxis()
    axes[1].legend(fontsize=8, loc="lower right")
    seeds = sorted({r["params"]["seed"] for c in configs for r in groups[c]})
    fig.suptitle(f"Fresh draws of the held-out pairs (seeds {seeds[0]}–{seeds[-1]}): how often each head learns "
                 "addition", fontsize=11)
    fig.tight_layout()
    return save(fig, image_dir, "fresh_draws")


@torch.no_grad()
def plot_adder_cell(model, image_dir=None):
    """What the adder head learned: its cell's outputs for the 8 inputs (digit bit, number bit, carry in) it can see,
    against a full adder's truth table, and for soft inputs between 0 and 1 (what a unsure digit bit looks like)."""
    device = model_device(model)

    def cell(inputs):  # the cell as the head runs it (symadder: averaged over its inputs' orderings), on the CPU
        return torch.sigmoid(model.head.step(inputs.to(device))).cpu()
    combos, truth = CELL_INPUTS, FULL_ADDER
    learned = cell(combos)  # (8, 2): sum bit, carry out
    fig, (table_ax, soft_ax) = plt.subplots(1, 2, figsize=(11, 3.8), width_ratios=(1, 1.3))
    table_ax.imshow(learned.numpy(), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for row in range(8):
        for col in range(2):
            ok = (learned[row, col] > 0.5) == (truth[row, col] > 0.5)
            table_ax.text(col, row, f"{learned[row, col]:.3f}  ({int(truth[row, col])})", ha="center", va="center",
                          fontsize=9, color=("white" if learned[row, col] > 0.5 else "black") if ok else WRONG)
    table_ax.set(xticks=[0, 1], xticklabels=["sum bit", "carry out"], yticks=range(8),
                 yticklabels=[f"{int(a)} + {int(b)} + carry {int(c)}" for a, b, c in combos.tolist()],
                 title="The learned cell (a full adder's in brackets)", )
    a = torch.linspace(0, 1, 101)
    for i, (b, c) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        out = cell(torch.stack([a, torch.full_like(a, b), torch.full_like(a, c)], 1))
        wide = dict(lw=5, alpha=0.45) if (b, c) == (1, 0) else {}  # under (0, 1), the same for a symmetric cell
        soft_ax.plot(a, out[:, 0], "-", color=f"C{i}", label=f"number bit {b}, carry in {c}", **wide)
        soft_ax.plot(a, out[:, 1], "--", color=f"C{i}", **wide)
    soft_ax.plot([], [], "k-", label="solid: sum bit")
    soft_ax.plot([], [], "k--", label="dashed: carry out")
    soft_ax.set(xlabel="the digit's bit as the image branch says it (probability)", ylabel="cell output (probability)",
                title="An unsure digit bit, between 0 and 1")
    soft_ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    soft_ax.grid(alpha=0.3)
    fig.tight_layout()
    return save(fig, image_dir, "adder_cell")


def plot_robustness(results: dict, image_dir=None, name: str = "robustness"):
    """Joint accuracy per shift at its 3 severities, against clean MNIST (dashed) and printed font digits."""
    shifts = results["shifts"]
    fig, ax = plt.subplots(figsize=(12, 3.8))
    for severity, shade in zip(range(3), ("#9ecae1", "#4292c6", "#08519c")):
        ax.bar([i + (severity - 1) * 0.27 for i in range(len(shifts))],
               [100 * r[severity]["joint_acc"] for r in shifts.values()], width=0.27, color=shade,
               label=("mild", "middle", "strong")[severity])
    ax.bar(len(shifts), 100 * results["fonts"]["joint_acc"], width=0.5, color="#bf8700",
           label=f"digits from {len(results['fonts']['fonts'])} fonts")
    ax.axhline(100 * results["clean"]["joint_acc"], color="black", ls="--", lw=1, label="clean MNIST test")
    ax.set_xticks(range(len(shifts) + 1), [*shifts, "fonts"], rotation=35, ha="right", fontsize=8)
    ax.set(ylabel="joint accuracy (%)", ylim=(0, 100),
           title=f"Digits from outside MNIST: mean over shifts and severities {100 * results['mean_shifted_joint_acc']:.1f} %")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.005, 1))
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return save(fig, image_dir, name)


def plot_robustness_comparison(groups: dict, image_dir=None, name: str = "robustness_comparison"):
    """Per shift, each model's joint accuracy averaged over the 3 severities (bar: mean over seeds, whisker: min
    to max over seeds) and at the middle severity (dot), against its clean MNIST accuracy (dashed)."""
    shifts = list(next(iter(groups.values()))[0]["shifts"])
    fig, ax = plt.subplots(figsize=(12, 3.8))
    width = 0.8 / len(groups)
    for k, (label, runs) in enumerate(groups.items()):
        color = f"C{k}"
        x = np.arange(len(shifts) + 1) + (k - (len(groups) - 1) / 2) * width
        per_run = np.array([[np.mean([s["joint_acc"] for s in r["shifts"][n]]) for n in shifts] + [r["fonts"]["joint_acc"]]
                            for r in runs]) * 100
        middle = np.array([[r["shifts"][n][1]["joint_acc"] for n in shifts] for r in runs]).mean(0) * 100
        mean = per_run.mean(0)
        ax.bar(x, mean, width=width, color=color, alpha=0.75,
               yerr=[mean - per_run.min(0), per_run.max(0) - mean], capsize=2,
               label=f"{label}: mean over severities ({len(runs)} seeds)")
        ax.plot(x[:-1], middle, "o", color=color, markeredgecolor="black", markersize=4, label=f"{label}: middle severity")
        ax.axhline(np.mean([r["clean"]["joint_acc"] for r in runs]) * 100, color=color, ls="--", lw=1)
    ax.set_xticks(range(len(shifts) + 1), [*shifts, "fonts"], rotation=35, ha="right", fontsize=8)
    means = "; ".join(f"{label} {100 * np.mean([r['mean_shifted_joint_acc'] for r in runs]):.1f} %" for label, runs in groups.items())
    ax.set(ylabel="joint accuracy (%)", ylim=(0, 100), title=f"Digits from outside MNIST, mean over shifts: {means}")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.005, 1))
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return save(fig, image_dir, name)
