"""The primary task's settings (Config): the core's shared settings with this task's own after them, typed and
checked, the one place each setting, its default and its meaning live (the notebook's parameters cell and
docs/usage.md's table are written from them)."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

from ..core.backbones import DEFAULT_PRECISION
from ..core.settings import NON_NEGATIVE, Settings, check_fields, setting
from .model import check_model_choices
from .pairs import FIXED_HOLDOUT, MAX_HOLDOUT

TASK = "digit_and_sum"  # metrics.json and model.pt say which task wrote them
AUGMENTS = (False, True, "robust")  # none; random rotation, scale and shift; that and corrupted digits


@dataclass(frozen=True)
class Config(Settings):
    """A run's settings, typed and checked. A bad value fails on construction, clearly. `resolve()` names the device
    and precision "auto" stands for; `fit` takes only a Config; `Net.from_config` builds its network."""

    label_smoothing: float = setting(0.0, "ε > 0: each output bit is trained by BCE towards (1 - ε) t + ε / 2", before=0.0)
    recalibrate_bn: bool = setting(False, "True: training ends by re-estimating batch norm's statistics on the clean images",
                                   before=False)
    backbone: str = setting("bn", '"bn", "mid", "wide" (stronger, slower) or "classic" (the original\'s CNN)')
    head: str = setting("mlp", '"mlp" (the original\'s 324 -> 128 -> 64 -> 9), "symadder" (learns addition), ...: docs/addition.md',
                        before="mlp")
    encoding: str = setting("binary", 'the output code: "binary" (the original\'s 9 bits); ablation: "onehot", "softmax"')
    number_input: str = setting("bits", 'the number\'s input code: "bits" (the original\'s 4); ablation: "onehot", "scalar"',
                                before="bits")
    augment: bool | str = setting(True, 'random rotation, scale and shift; "robust": also corrupted digits; False: none')
    elastic: float = setting(0.0, "px > 0: augmentation also bends each image smoothly (a 4x4 grid's points move up to this)",
                             before=0.0, read_with="augment")
    centre_input: bool = setting(False, "True: the model first centres each image by its ink's centre of mass",
                                 before=False)
    holdout: int | str = setting(0, 'k > 0: never train on k of the 100 (digit, number) pairs, drawn by seed; "3d+7": 10')
    train_size: int | None = setting(None, "None: every training image; N: only the first N (smoke runs)")
    eval_size: int | None = setting(None, "None: every evaluation image; N: only the first N (smoke runs)", before=None)
    image_dir: str | None = setting(None, 'where the figures go; None: output_dir/images ("images": the README\'s)',
                                    computes=False)
    resume: bool = setting(False, "True: continue the run in output_dir from its last checkpoint", computes=False)
    min_joint_acc: float = setting(0.99, "the notebook's last cell fails below this joint accuracy", computes=False)
    export_path: str | None = setting(None, 'also write the trained weights there, without optimizer state', computes=False)

    # The primary notebook's parameters cell holds these, the ones a reader changes; every other setting is a
    # papermill parameter too (`-p elastic 2`), listed in docs/usage.md.
    NOTEBOOK_CELL = ("epochs", "batch_size", "lr", "seed", "device", "backbone", "head", "output_dir")

    def __post_init__(self):
        super().__post_init__()
        check_fields(self, optional_positive=("train_size", "eval_size"),
                     ranges={"label_smoothing": (1, "a number in [0, 1)"), "elastic": NON_NEGATIVE,
                             "min_joint_acc": (1.0000001, "a number in [0, 1]")},
                     flags=("resume", "centre_input", "recalibrate_bn"), paths=("image_dir", "export_path"))
        check_model_choices(self.backbone, self.encoding, self.number_input, self.head)
        if not (isinstance(self.augment, bool) or self.augment == "robust"):
            raise ValueError(f"augment must be one of {AUGMENTS}, got {self.augment!r}")
        holdout = self.holdout
        if holdout != FIXED_HOLDOUT and (isinstance(holdout, bool) or not isinstance(holdout, int)
                                         or not 0 <= holdout <= MAX_HOLDOUT):
            raise ValueError(f"holdout must be a number of pairs 0..{MAX_HOLDOUT} or {FIXED_HOLDOUT!r}, got {holdout!r}")

    def preferred_precision(self) -> tuple[str, str]:
        """"auto" is the backbone's precision (`DEFAULT_PRECISION`, chosen on the validation split)."""
        return DEFAULT_PRECISION.get(self.backbone, "fp32"), f"the {self.backbone} backbone's default"

    @property
    def image_path(self) -> Path:
        """`image_dir` (relative to the working directory), or the run's images/ folder."""
        return Path(self.image_dir).expanduser() if self.image_dir else self.output_path / "images"


PARAMS = tuple(f.name for f in fields(Config))
# What a resumed run must match (the device is not among them: a run may resume on another device, with close,
# not bit-identical, numbers); and what older runs and checkpoints, which lack a newer field, ran with.
TRAINING_PARAMS = tuple(f.name for f in fields(Config) if f.metadata["computes"])
ADDED_PARAMS = {f.name: f.metadata["before"] for f in fields(Config) if "before" in f.metadata}


__all__ = ["TASK", "AUGMENTS", "Config", "PARAMS", "TRAINING_PARAMS", "ADDED_PARAMS"]
