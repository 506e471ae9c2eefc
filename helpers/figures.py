"""Figures for the notebook and README: training curves, the architecture, prediction grids.

Each function draws one figure from the run's own data, saves it as PNG under `image_dir`
(when given) and returns the matplotlib Figure so the notebook shows it.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyBboxPatch

from .device import model_device
from .encoding import NUMBER_BITS, answer_text
from .heads import CELL_INPUTS, FULL_ADDER, HEADS
from .model import NUMBER_INPUTS
from .results import covers, curve_groups, wilson

RIGHT, WRONG = "#1a7f37", "#cf222e"


def save(fig, image_dir, name: str):
    """Save `fig` as `{image_dir}/{name}.png` when `image_dir` is set; return it."""
    if image_dir is not None:
        Path(image_dir).mkdir(parents=True, exist_ok=True)
        fig.savefig(Path(image_dir) / f"{name}.png", dpi=110, bbox_inches="tight")
    return fig


LOSS_NAMES = {"binary": "BCE loss (per bit)", "onehot": "BCE loss (per output)",
              "softmax": "cross-entropy (digit + sum heads)"}


def plot_train_loss(train_log: list, n_train: int, encoding: str = "binary", image_dir=None):
    """Training loss at every logged step, against epochs (fractional), named by the encoding's loss."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot([r["epoch"] - 1 + r["seen"] / n_train for r in train_log], [r["loss"] for r in train_log], lw=1)
    ax.set(xlabel="epoch", ylabel=LOSS_NAMES[encoding], yscale="log", title="Training loss per logged step")
    ax.grid(alpha=0.3)
    return save(fig, image_dir, "train_loss")


def plot_epoch_metrics(history: list, eval_name: str = "test", encoding: str = "binary", image_dir=None):
    """Evaluation loss (on the test or the validation split, as `eval_name` says), and digit / sum / joint accuracy,
    per epoch."""
    epochs = [h["epoch"] for h in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.4))
    loss_ax.plot(epochs, [h[f"{eval_name}_loss"] for h in history], "o-")
    loss_ax.set(xlabel="epoch", ylabel=LOSS_NAMES[encoding], yscale="log", title=f"{eval_name.capitalize()} loss")
    for key in ("digit_acc", "sum_acc", "joint_acc"):
        acc_ax.plot(epochs, [100 * h[key] for h in history], "o-", label=key.replace("_acc", ""))
    acc_ax.axhline(99, color="gray", ls=":", lw=1)
    low = min(100 * h["joint_acc"] for h in history[len(history) // 2:])
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", ylim=(min(low, 99) - 0.5, 100),
               title=f"{eval_name.capitalize()} accuracy (dotted: 99%)")
    acc_ax.legend()
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save(fig, image_dir, "test_metrics")


def layer_boxes(model) -> list[tuple[str, str, str]]:
    """(part, label, output shape) per block of the model, read off one forward pass.

    A block starts at each Conv2d or Linear and takes in the layers after it (norm, activation,
    pooling, dropout, flatten), so the drawing stays readable.
    """
    calls, counts = [], {}  # each layer once, and how often it ran (the adder's cell: once per bit position)

    def record(module, inputs, output, name):
        counts[name] = counts.get(name, 0) + 1
        if counts[name] == 1:
            calls.append((name, module, tuple(output.shape[1:])))
    hooks = [module.register_forward_hook(lambda m, i, o, name=name: record(m, i, o, name))
             for name, module in model.named_modules() if name and not list(module.children())]
    model.eval()
    device = model_device(model)
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28, device=device), torch.zeros(1, NUMBER_BITS, device=device))
    for hook in hooks:
        hook.remove()
    boxes = []
    for name, module, shape in calls:
        kind = type(module).__name__
        if kind == "Conv2d":
            label = f"Conv2d {module.in_channels}→{module.out_channels}, {module.kernel_size[0]}×{module.kernel_size[1]}"
        elif kind == "Linear":
            label = f"Linear {module.in_features}→{module.out_features}"
        else:
            label = kind
        if counts[name] > 1 and kind in ("Conv2d", "Linear"):
            label += f" (run {counts[name]}×, shared)"
        shape_text = "×".join(map(str, shape))
        if kind in ("Conv2d", "Linear") or not boxes:
            boxes.append([name.split(".")[0], label, shape_text])
        else:
            boxes[-1][1] += f" · {label}"
            boxes[-1][2] = shape_text
    return [tuple(b) for b in boxes]


OUTPUT_TEXT = {"binary": "9 logits → sigmoid:  bits 1-4 digit (0..9),  bits 5-9 sum (0..18)",
               "onehot": "29 logits → sigmoid:  10 digit outputs, 19 sum outputs (one on each)",
               "softmax": "29 logits → two softmaxes:  digit (10 classes),  sum (19 classes)"}


def plot_architecture(model, image_dir=None):
    """The network as a flow chart: image branch, number branch, the head, the outputs; every label read off the
    model (its layers, number input code, head and output encoding)."""
    boxes = layer_boxes(model)
    backbone = [b for b in boxes if b[0] == "backbone"]
    head = [b for b in boxes if b[0] == "head"]
    rows = 1 + len(backbone) + 1 + len(head) + 1
    fig, ax = plt.subplots(figsize=(8.5, 0.62 * rows + 0.6))
    ax.set(xlim=(0, 10), ylim=(-rows, 0.6))
    ax.axis("off")

    def box(x, y, text, color, width=6.6):
        ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.3), width, 0.6, boxstyle="round,pad=0.02",
                                    fc=color, ec="#555", lw=0.8))
        ax.text(x, y, text, ha="center", va="center", fontsize=8.5)

    def arrow(x0, y0, x1, y1):
        ax.annotate("", (x1, y1 + 0.3), (x0, y0 - 0.3), arrowprops=dict(arrowstyle="->", color="#555"))

    x, y = 3.6, 0
    box(x, y, "MNIST image  1×28×28", "#ddf4ff")
    for _, label, shape in backbone:
        arrow(x, y, x, y - 1)
        y -= 1
        box(x, y, f"{label}  →  {shape}", "#dafbe1")
    ax.text(x - 3.4, y, f"{backbone[-1][2]} features", ha="right", va="center", fontsize=8, color="#555")
    arrow(x, y, x, y - 1)
    number_y = y - 1
    inputs = NUMBER_INPUTS[model.number_input]
    box(8.7, y, f"number 0..9  →  {inputs} {'bits' if model.number_input == 'bits' else model.number_input}",
        "#fff8c5", width=2.5)
    ax.annotate("", (x + 3.3, number_y), (8.7, y - 0.3), arrowprops=dict(arrowstyle="->", color="#555"))
    y = number_y
    box(x, y, f"concatenate  →  {320 + inputs}" if model.head_name == "mlp" else
        f"{model.head_name} head: the image's features and the number's {inputs} bits", "#eee")
    for _, label, shape in head:
        arrow(x, y, x, y - 1)
        y -= 1
        box(x, y, f"{label}  →  {shape}", "#fbefff")
    arrow(x, y, x, y - 1)
    box(x, y - 1, OUTPUT_TEXT[model.encoding], "#ffebe9")
    ax.set_title(f"Net (backbone {model.backbone_name!r}, head {model.head_name!r}), {model.count_parameters():,} parameters",
                 fontsize=10)
    return save(fig, image_dir, "architecture")


def plot_predictions(images: torch.Tensor, numbers, digits, pred_digits, pred_sums, indices,
                     title: str, name: str, image_dir=None, cols: int = 8):
    """A grid of (image, number) inputs with the true and the predicted digit and sum.

    Green: digit and sum both right; red: anything wrong. `?` marks an invalid output code.
    """
    indices = list(indices)
    rows = max(1, -(-len(indices) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.45 * cols, 1.75 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, indices):
        d, n, pd, ps = int(digits[i]), int(numbers[i]), int(pred_digits[i]), int(pred_sums[i])
        ok = pd == d and ps == d + n
        ax.imshow(images[i], cmap="gray")
        ax.set_title(f"{d} + {n} = {d + n}\npred {answer_text(pd, 9)}, {answer_text(ps, 18)}", fontsize=8.5,
                     color=RIGHT if ok else WRONG)
        for spine in ax.spines.values():
            spine.set(visible=True, color=RIGHT if ok else WRONG, lw=2)
        ax.axis("on")
        ax.set(xticks=[], yticks=[])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save(fig, image_dir, name)


def plot_exhaustive(exhaustive: dict, image_dir=None):
    """Sum accuracy per (digit, number) and the digit confusion matrix, over every test image x number."""
    fig, (sum_ax, conf_ax) = plt.subplots(1, 2, figsize=(12, 5))
    by_pair = 100 * torch.tensor(exhaustive["sum_acc_by_pair"])
    im = sum_ax.imshow(by_pair, cmap="viridis", vmin=min(98.0, by_pair.min().item()), vmax=100)
    for (d, n), value in zip(((d, n) for d in range(10) for n in range(10)), by_pair.flatten().tolist()):
        sum_ax.text(n, d, f"{value:.1f}", ha="center", va="center", fontsize=7, color="white" if value < 99.3 else "black")
    sum_ax.set(xlabel="number", ylabel="true digit", xticks=range(10), yticks=range(10),
               title=f"Sum accuracy (%) per (digit, number)\nall {exhaustive['pairs']:,} pairs: "
                     f"{exhaustive['sum_acc']:.2%}")
    fig.colorbar(im, ax=sum_ax, shrink=0.8)
    confusion = torch.tensor(exhaustive["confusion"]).float()
    conf_ax.imshow(torch.log10(confusion + 1), cmap="Blues")
    for d in range(10):
        for p in range(11):
            if confusion[d, p]:
                conf_ax.text(p, d, f"{int(confusion[d, p])}", ha="center", va="center", fontsize=6.5,
                             color="white" if d == p else "black")
    conf_ax.set(xlabel="predicted digit", ylabel="true digit", xticks=range(11), yticks=range(10),
                xticklabels=[*map(str, range(10)), "inv."],
                title=f"Digit confusion over all pairs (log colour)\ndigit accuracy {exhaustive['digit_acc']:.2%}, "
                      f"invalid codes {exhaustive['invalid']}")
    fig.tight_layout()
    return save(fig, image_dir, "exhaustive")


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


def plot_holdout(groups: dict, image_dir=None):
    """Joint accuracy on the 10 held-out pairs and the other 90, trained with and without them."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    configs = [c for c in ("binary", "onehot", "softmax") if c in groups]
    for i, config in enumerate(configs):
        for j, (suffix, label) in enumerate((("", "trained on all 100 pairs"), ("-holdout", "10 pairs held out"))):
            for k, (part, hatch) in enumerate((("heldout_pairs", "//"), ("seen_pairs", ""))):
                runs = groups.get(config + suffix, [])
                if not runs:
                    continue
                values = [100 * r["exhaustive"][part]["joint_acc"] for r in runs]
                x = i * 5 + j * 2 + k
                ax.bar(x, sum(values) / len(values), color=f"C{j}", hatch=hatch, edgecolor="white",
                       label=f"{label}: {'the 10 pairs' if k == 0 else 'other 90'}" if i == 0 else None)
                ax.plot([x] * len(values), values, "k.", ms=4)
    ax.set_xticks([i * 5 + 1.5 for i in range(len(configs))], configs)
    low = min(100 * r["exhaustive"][p]["joint_acc"] for c in groups for r in groups[c] for p in ("heldout_pairs", "seen_pairs"))
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
        held_ax.plot(ks, mean, "o-", color=color, lw=2, label=f"head {key[0]}: pairs never trained on")
        held_ax.fill_between(ks, mean - std, mean + std, color=color, alpha=0.2)
        ks, mean, _ = stats(by_k, lambda r: r["exhaustive"]["seen_pairs"]["joint_acc"])
        held_ax.plot(ks, mean, ":", color=color, label=f"head {key[0]}: seen pairs")
        with_unseen = {k: runs for k, runs in by_k.items() if all("unseen_numbers" in r["exhaustive"] for r in runs)}
        if with_unseen:
            ks, mean, std = stats(with_unseen, lambda r: r["exhaustive"]["unseen_numbers"]["joint_acc"])
            unseen_ax.errorbar(ks, mean, std, fmt="o-", color=color, capsize=3, label=f"head {key[0]}")
    others = [key for key in series if key not in heads]
    for j, key in enumerate(sorted(others)):
        ks, mean, _ = stats(series[key], lambda r: r["exhaustive"]["heldout_pairs"]["joint_acc"])
        label = f"mlp, {key[1]} output" if key[2] == "bits" else f"mlp, number as {key[2]}"
        held_ax.plot(ks, mean, "x-" if key[2] == "bits" else "s", color="gray", alpha=0.4 + 0.3 * (j % 2), lw=1, ms=4,
                     label=label)
    held_ax.set(xlabel="k of the 100 (digit, number) pairs held out of training", ylabel="joint accuracy (%)",
                title="Pairs never trained on (every test image)", ylim=(-2, 101))
    held_ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
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
    axes[0].set_yticks(range(len(configs)), configs)
    axes[0].invert_yaxis()
    axes[1].legend(fontsize=8, loc="lower right")
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
    fig, (table_ax, soft_ax) = plt.subplots(1, 2, figsize=(10, 3.8), width_ratios=(1, 1.3))
    table_ax.imshow(learned.numpy(), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for row in range(8):
        for col in range(2):
            ok = (learned[row, col] > 0.5) == (truth[row, col] > 0.5)
            table_ax.text(col, row, f"{learned[row, col]:.3f}  ({int(truth[row, col])})", ha="center", va="center",
                          fontsize=9, color=("white" if learned[row, col] > 0.5 else "black") if ok else WRONG)
    table_ax.set(xticks=[0, 1], xticklabels=["sum bit", "carry out"], yticks=range(8),
                 yticklabels=[f"{int(a)} + {int(b)} + carry {int(c)}" for a, b, c in combos.tolist()],
                 title="The learned cell (a full adder's answer in brackets)")
    a = torch.linspace(0, 1, 101)
    for b, c, style in ((0, 0, "-"), (1, 0, "--"), (0, 1, "-."), (1, 1, ":")):
        out = cell(torch.stack([a, torch.full_like(a, b), torch.full_like(a, c)], 1))
        soft_ax.plot(a, out[:, 0], style, color="C0", label=f"sum bit; number bit {b}, carry {c}")
        soft_ax.plot(a, out[:, 1], style, color="C1", label=f"carry; number bit {b}, carry {c}")
    soft_ax.set(xlabel="the digit's bit as the image branch says it (probability)", ylabel="cell output (probability)",
                title="Between 0 and 1: how an unsure digit bit passes on")
    soft_ax.legend(fontsize=6.5, ncol=2, loc="center right")
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
