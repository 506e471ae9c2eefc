"""Exploring in JupyterLab: the code of the `helpers` package shown on the page, and the trained model under your fingers.

`show_code(RandomSampler)` renders an object's source, highlighted, from the module itself (one
source of truth, nothing copied into the notebook); `model_code(model)` names what a model runs.
`Explorer(model, data)` is an ipywidgets panel: pick a test image (or step through the model's mistakes) and a
number, and see the image, the output probabilities against the target code, and the decoded digit and sum.
"""
from __future__ import annotations

import inspect
import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import Code, display

from ..core.backbones import bn_backbone, classic_backbone, conv_pool_bn, mid_backbone, three_conv_backbone, to_320, \
    wide_backbone
from ..core.mnist import MNISTData
from ..digit_and_sum.encoding import DIGIT_BITS, SUM_BITS, answer_text, decode_outputs, target_code
from ..digit_and_sum.evaluation import pair_logits
from .digit_and_sum import RIGHT, WRONG


def show_code(*objects) -> None:
    """Display the source of functions and classes as highlighted Python, read from where they live."""
    display(Code("\n\n".join(inspect.getsource(obj) for obj in objects), language="python"))


BACKBONE_CODE = {"classic": (classic_backbone,), "bn": (conv_pool_bn, to_320, bn_backbone),
                 "mid": (conv_pool_bn, to_320, three_conv_backbone, mid_backbone),
                 "wide": (conv_pool_bn, to_320, three_conv_backbone, wide_backbone)}


def model_code(model) -> list:
    """What a primary-task `Net` runs, for `show_code`: its backbone's functions, then its head's classes from this
    package (a head's bases first)."""
    heads = [c for c in reversed(type(model.head).__mro__) if c.__module__.startswith("helpers.")]
    return [*BACKBONE_CODE[model.backbone_name], *heads]


# ----------------------------------------------------------------------------------- the model's outputs

def output_labels(encoding: str) -> list[str]:
    """One label per output: the bit's place value for the 9-bit code, the class for the others."""
    if encoding == "binary":
        return [f"d{2**i}" for i in range(DIGIT_BITS - 1, -1, -1)] + \
               [f"s{2**i}" for i in range(SUM_BITS - 1, -1, -1)]
    return [f"d={d}" for d in range(10)] + [f"s={s}" for s in range(19)]


def probabilities(encoding: str, logits: torch.Tensor) -> torch.Tensor:
    """A sigmoid per output (binary, onehot), a softmax per head (softmax)."""
    if encoding == "softmax":
        return torch.cat([logits[..., :10].softmax(-1), logits[..., 10:].softmax(-1)], -1)
    return logits.sigmoid()


def plot_pair(image, probabilities, target, labels, title: str, color: str):
    """The input image beside the output probabilities as bars, the target code (if any) marked on each bar."""
    fig, (image_ax, bar_ax) = plt.subplots(1, 2, figsize=(9, 2.8), width_ratios=(1, 3.2))
    image_ax.imshow(torch.as_tensor(image).numpy(), cmap="gray")
    image_ax.axis("off")
    digit_outputs = 10 if len(labels) > 9 else DIGIT_BITS
    x = range(len(labels))
    bar_ax.bar(x, torch.as_tensor(probabilities).tolist(), color=["#0969da"] * digit_outputs + ["#bf8700"] * (len(labels) - digit_outputs))
    if target is not None:
        bar_ax.scatter(x, torch.as_tensor(target).tolist(), marker="_", s=300, color="black", zorder=3, label="target")
        bar_ax.legend(loc="upper right", fontsize=8)
    bar_ax.axhline(0.5, color="gray", lw=0.8, ls=":")
    bar_ax.set(ylim=(-0.05, 1.05), ylabel="probability", xticks=list(x))
    bar_ax.set_xticklabels(labels, fontsize=8 if len(labels) > 9 else 10)
    fig.suptitle(title, color=color)
    fig.tight_layout()
    return fig


def png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------- the panel

class Explorer:
    """A panel over the evaluation images: `Explorer(model, data).show()` in a notebook.

    Controls: `number` (0-9), `which` ("all images" or "mistakes": those the model gets wrong with
    this number) and `index` (position in that list). It redraws whenever one changes.
    """

    def __init__(self, model, data: MNISTData):
        self.model, self.data = model, data
        self.labels = output_labels(model.encoding)
        self.logits = {}  # number -> (N, outputs) for every evaluation image, computed on first use
        self.number = widgets.ToggleButtons(options=list(range(10)), value=7, description="number",
                                            style={"button_width": "32px"})
        self.which = widgets.ToggleButtons(options=["all images", "mistakes"], description="show")
        self.index = widgets.IntSlider(min=0, max=len(data.eval_y) - 1, description="image", continuous_update=False)
        self.answer = widgets.HTML()
        self.picture = widgets.Image(format="png")
        self.number.add_class("explore-number")
        self.picture.add_class("explore-picture")
        self.answer.add_class("explore-answer")
        for control in (self.number, self.which):
            control.observe(self.on_list_change, "value")
        self.index.observe(lambda change: self.redraw(), "value")
        self.panel = widgets.VBox([self.number, self.which, self.index, self.answer, self.picture])
        self.on_list_change()

    def decoded(self, number: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits, predicted digits and predicted sums of every evaluation image with `number`."""
        if number not in self.logits:
            numbers = torch.full((len(self.data.eval_x),), number)
            self.logits[number] = pair_logits(self.model, self.data.eval_x, numbers).float().cpu()
        logits = self.logits[number]
        return (logits, *decode_outputs(self.model.encoding, logits))

    def images(self) -> list[int]:
        """The evaluation images the slider steps through: all, or the mistakes with the current number."""
        _, digits, sums = self.decoded(self.number.value)
        truth = self.data.eval_y
        if self.which.value == "mistakes":
            return torch.nonzero((digits != truth) | (sums != truth + self.number.value)).flatten().tolist()
        return list(range(len(truth)))

    def on_list_change(self, change=None) -> None:
        self.shown = self.images()
        with self.index.hold_trait_notifications():
            self.index.max = max(len(self.shown) - 1, 0)
            self.index.value = min(self.index.value, self.index.max)
        self.redraw()

    def state(self) -> dict:
        """What the panel shows now: the image, the truth and the model's answer."""
        number = self.number.value
        if not self.shown:
            return {"number": number, "image": None}
        image = self.shown[self.index.value]
        logits, digits, sums = self.decoded(number)
        digit = self.data.eval_y[image].item()
        pred_digit, pred_sum = digits[image].item(), sums[image].item()
        return {"number": number, "image": image, "digit": digit, "sum": digit + number,
                "pred_digit": pred_digit, "pred_sum": pred_sum, "right": (pred_digit, pred_sum) == (digit, digit + number),
                "probabilities": probabilities(self.model.encoding, logits[image])}

    def describe(self) -> str:
        """The current state in one line of text."""
        s = self.state()
        if s["image"] is None:
            return f"no mistakes with the number {s['number']}"
        kind = "mistakes" if self.which.value == "mistakes" else "images"
        return (f"{self.data.eval_name} image #{s['image']} ({self.index.value + 1} of {len(self.shown)} {kind}): "
                f"true {s['digit']} + {s['number']} = {s['sum']}; predicted digit {answer_text(s['pred_digit'], 9)}, "
                f"sum {answer_text(s['pred_sum'], 18)}: {'right' if s['right'] else 'wrong'}")

    def redraw(self) -> None:
        s = self.state()
        color = RIGHT if s.get("right") else WRONG
        self.answer.value = f"<span style='color:{color}'>{self.describe()}</span>"
        if s["image"] is None:
            self.picture.value = b""
            return
        title = (f"true {s['digit']} + {s['number']} = {s['sum']};  predicted digit {answer_text(s['pred_digit'], 9)}, "
                 f"sum {answer_text(s['pred_sum'], 18)}")
        self.picture.value = png(plot_pair(self.data.eval_images[s["image"]], s["probabilities"],
                                           target_code(self.model.encoding, torch.tensor([s["digit"]]),
                                                               torch.tensor([s["number"]]))[0],
                                           self.labels, title, color))

    def show(self) -> None:
        """Display the panel, and its first state as text for a notebook read without a kernel."""
        display(self.panel)
        print("first state:", self.describe())

