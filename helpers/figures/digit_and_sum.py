"""Figures for the primary notebook and README: training curves, the architecture, prediction grids, every image with
every number.

Each function draws one figure from the run's own data, saves it as PNG under `image_dir`
(when given) and returns the matplotlib Figure so the notebook shows it. The experiments notebook's figures are in
`study_figures`, MNIST addition's in `addition_figures`.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import FancyBboxPatch

from ..core.device import model_device
from ..digit_and_sum.encoding import NUMBER_BITS, answer_text
from ..digit_and_sum.model import NUMBER_INPUTS

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
    """Evaluation loss (on the test or the validation split, as `eval_name` says), and digit / sum / joint error, per
    epoch, both on log scales so that every epoch shows, the first (a sum error near 75 %) and the last (under 1 %)."""
    epochs = [h["epoch"] for h in history]
    fig, (loss_ax, err_ax) = plt.subplots(1, 2, figsize=(10, 3.4))
    loss_ax.plot(epochs, [h[f"{eval_name}_loss"] for h in history], "o-")
    loss_ax.set(xlabel="epoch", ylabel=LOSS_NAMES[encoding], yscale="log", title=f"{eval_name.capitalize()} loss")
    for key in ("digit_acc", "sum_acc", "joint_acc"):
        err_ax.plot(epochs, [max(100 * (1 - h[key]), 1e-2) for h in history], "o-", label=key.replace("_acc", ""))
    err_ax.axhline(1, color="gray", ls=":", lw=1)
    err_ax.set(xlabel="epoch", ylabel="error (%), log scale", yscale="log",
               title=f"{eval_name.capitalize()} error (dotted: 99 % accuracy)")
    err_ax.legend()
    for ax in (loss_ax, err_ax):
        ax.grid(alpha=0.3, which="both")
        ax.set_xticks(epochs if len(epochs) <= 20 else ax.get_xticks())
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
