"""MNIST addition's settings (AdditionConfig): the core's shared settings with this task's own after them, typed and
checked (notebooks/mnist_addition.ipynb's parameters cell and the table of docs/usage.md are written from them)."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.backbones import DEFAULT_PRECISION
from ..core.settings import NON_NEGATIVE, Settings, check_fields, setting, shared
from ..core.training import SCHEDULES
from .model import METHODS, PERCEPTIONS

TASK = "mnist_addition"  # metrics.json and model.pt say which task wrote them

# A run that found no digits (it reads them relabelled, d + 5 or a neighbour) shows it in its training loss, which
# needs no digit label. Near the end of an epoch, -log P per scored sum digit was (the logged steps of the committed
# runs, exact, mid): at steps 50 and 100 of epoch 2 at N = 15, 0.05-0.18 in every run that learned and 0.86-1.10 in
# every one that did not; at N = 100 with adjacent_first (the surrogate's unknown carry keeps a good run near 0.45),
# at step 100 of epoch 1 and step 0 of epoch 2, 0.44-0.61 against 1.13-1.73 (33 attempts, test seeds 6-15 and
# validation). `restarts` starts such a run again from a new initialisation, reading the loss over the last quarter
# of epoch `restart_epoch`'s steps.
RESTART_EPOCH, RESTART_LOSS = 2, 0.7
MAX_TEST_N = 5_000  # the test split's 10,000 images make one pair of 5,000-digit numbers


@dataclass(frozen=True)
class AdditionConfig(Settings):
    """An MNIST-addition run's settings, typed and checked. A bad value fails on construction, clearly."""

    batch_size: int = shared("batch_size", 512)
    precision: str = shared("precision", "bf16|fp32")
    log_interval: int = shared("log_interval", 50)
    digits: int = setting(1, "N: digits per number; each pair is 2N images and the sum of two N-digit numbers")
    method: str = setting("exact", '"exact" (the addition program), "learned" (its cell learned too) or "neural"')
    perception: str = setting("mid", '"lenet" (DeepProbLog\'s network), or a backbone of the project: "bn", "mid", ...')
    schedule: str = setting("onecycle", '"onecycle" (peaking at lr) or "constant" (lr throughout: A-NeSI\'s Adam)',
                            before="onecycle")
    augment: bool = setting(True, "random rotation, scale and shift of every training image")
    cell_init: float = setting(0.0, "learned: the std of the cell's initial logits (0: a uniform table)")
    balance: float = setting(0.0, "> 0: that weight times KL(mean digit distribution || uniform) added to the loss")
    lowest_first: int = setting(0, "> 0: train on the sum's lowest digits first, 4 in epoch 1, all from this epoch on")
    adjacent_first: int = setting(0, "> 0: before this epoch train on every two adjacent sum digits, then on the sum")
    restarts: int = setting(0, "> 0: up to this many fresh starts of a run whose training loss over the last quarter "
                               "of epoch `restart_epoch` is above `restart_loss` per sum digit (it found no digits)")
    restart_epoch: int = setting(RESTART_EPOCH, "the epoch after which `restarts` reads the training loss",
                                 read_with="restarts")
    restart_loss: float = setting(RESTART_LOSS, "the training loss per sum digit above which `restarts` starts again",
                                  read_with="restarts")
    relabel_epochs: int = setting(0, "> 0: then that many epochs of a fresh perception trained on the training images' "
                                     "digits as the program reads them from the sums (self-training)", before=0)
    relabel_perception: str = setting("mid", "the perception those epochs train; the program stays the run's",
                                      before="mid", read_with="relabel_epochs")
    relabel_lr: float = setting(0.01, "peak learning rate of those epochs (one-cycle AdamW)", before=0.01,
                                read_with="relabel_epochs")
    members: int = setting(1, "> 1: that many such perceptions (the further ones on the first one's reading), read as "
                              "one (their mean probabilities)", before=1, read_with="relabel_epochs")
    lengths: tuple = setting((), "N at which to evaluate the trained model, frozen, e.g. [4, 15, 100] (papermill -y): "
                                 "re-paired test sums, into metrics.json", computes=False)
    train_pairs: int | None = setting(None, "None: every training pair; P: only the first P (smoke runs)")
    min_sum_acc: float = setting(0.0, "the notebook's last cell fails below this sum accuracy", computes=False)

    DEFAULT_OUTPUT = "mnist-addition"

    def __post_init__(self):
        super().__post_init__()
        check_fields(self, positive=("digits", "restart_epoch", "members"),
                     non_negative=("lowest_first", "adjacent_first", "restarts", "relabel_epochs"),
                     ranges={"cell_init": NON_NEGATIVE, "balance": NON_NEGATIVE, "restart_loss": NON_NEGATIVE,
                             "relabel_lr": NON_NEGATIVE, "min_sum_acc": (1.0000001, "a number in [0, 1]")},
                     flags=("augment",), optional_positive=("train_pairs",))
        for key, value, choices in (("method", self.method, METHODS), ("perception", self.perception, PERCEPTIONS),
                                    ("schedule", self.schedule, SCHEDULES),
                                    ("relabel_perception", self.relabel_perception, PERCEPTIONS)):
            if value not in choices:
                raise ValueError(f"{key} must be one of {list(choices)}, got {value!r}")
        if self.restarts and self.restart_epoch > self.epochs:
            raise ValueError(f"restart_epoch {self.restart_epoch} is after the last epoch ({self.epochs}): restarts "
                             f"would never be read")
        if self.precision == "fp64":
            raise ValueError("precision 'fp64' is the primary task's reference runs' (tests/README.md); MNIST addition "
                             "computes in 'fp32', 'bf16', 'bf16|fp32' or 'auto'")
        if (self.relabel_epochs or self.lengths) and self.method == "neural":
            raise ValueError("relabel_epochs and lengths need a program that reads digits (method 'exact' or "
                             "'learned'): the neural baseline has none")
        if self.members > 1 and not self.relabel_epochs:
            raise ValueError("members > 1 are perceptions of the relabelled epochs: set relabel_epochs too")
        if not isinstance(self.lengths, (list, tuple)) or not all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in self.lengths):
            raise ValueError(f"lengths must be a list of positive ints (the N to add at), got {self.lengths!r}")
        object.__setattr__(self, "lengths", tuple(self.lengths))  # papermill and JSON give lists
        if self.lengths and 2 * max(self.lengths) > (self.val_size or 2 * MAX_TEST_N):
            raise ValueError(f"lengths {max(self.lengths)} needs {2 * max(self.lengths)} evaluation images; the "
                             f"evaluation split has {self.val_size or 2 * MAX_TEST_N}")
        if self.lowest_first and self.adjacent_first:
            raise ValueError("lowest_first and adjacent_first are two curricula: set one of them, not both")

    def preferred_precision(self) -> tuple[str, str]:
        """"auto" is the perception's precision: a backbone's (`DEFAULT_PRECISION`), fp32 for DeepProbLog's LeNet."""
        return DEFAULT_PRECISION.get(self.perception, "fp32"), f"the {self.perception} perception's default"


__all__ = ["TASK", "RESTART_EPOCH", "RESTART_LOSS", "MAX_TEST_N", "AdditionConfig"]
