"""A run of the primary task: its typed, checked settings (Config), training with checkpoints (`fit`), and what it
writes (model.pt, metrics.json with provenance)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from ..core.backbones import DEFAULT_PRECISION
from ..core.checkpoints import write_json
from ..core.device import full_fp32, synchronize, weight_dtype
from ..core.mnist import MNISTData
from ..core.provenance import versions
from ..core.settings import Settings, check_fields, setting
from ..core.training import make_optimizer
from .checkpoints import TASK, read_checkpoint, save_checkpoint
from .evaluation import ACCURACIES, eval_numbers, evaluate, evaluate_exhaustive
from .model import Net, check_model_choices
from .pairs import FIXED_HOLDOUT, MAX_HOLDOUT, cell_coverage, held_out_pairs
from .training import recalibrate_batch_norm, train_epoch

AUGMENTS = (False, True, "robust")  # none; random rotation, scale, shift; that and corrupted digits


@dataclass(frozen=True)
class Config(Settings):
    """A run's settings, typed and checked: the one place each setting, its default and its meaning live. A bad value
    fails on construction, clearly. `resolved()` names the device and precision "auto" stands for; `fit` takes only a
    Config; `Net.from_config` builds its network."""

    epochs: int = setting(10, "training epochs")
    batch_size: int = setting(128, "images per training step")
    lr: float = setting(0.01, "peak learning rate of the one-cycle schedule (AdamW)")
    weight_decay: float = setting(0.01, "AdamW's weight decay")
    label_smoothing: float = setting(0.0, "ε > 0: each output bit is trained by BCE towards (1 - ε) t + ε / 2", before=0.0)
    recalibrate_bn: bool = setting(False, "True: training ends by re-estimating batch norm's statistics on the clean images",
                                   before=False)
    seed: int = setting(1, "seeds initialisation, shuffling, augmentation, the number sampler and dropout")
    device: str = setting("auto", '"auto": the accelerator if there is one, else the CPU; or "cpu", "cuda:1", "mps" ...',
                          computes=False)
    precision: str = setting("auto", '"fp32", "bf16" (autocast), "bf16|fp32" (bf16 where native), "auto" (the '
                             'backbone\'s default; both fall back to fp32 without native bf16) or "fp64" (reference runs)',
                             before="fp32")
    backbone: str = setting("bn", '"bn", "mid", "wide" (stronger, slower) or "classic" (the original\'s CNN)')
    head: str = setting("mlp", '"mlp" (the original\'s 324 -> 128 -> 64 -> 9), "symadder" (learns addition), ...: HEADS',
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
    val_size: int = setting(0, "> 0: evaluate on a validation split of this size carved from the training images")
    train_size: int | None = setting(None, "None: every training image; N: only the first N (smoke runs)")
    log_interval: int = setting(100, "training steps between log lines", computes=False)
    data_dir: str | None = setting(None, "MNIST's folder; None: $MNIST_DATA_DIR, else data/ in the repository",
                                   computes=False)
    output_dir: str | None = setting(None, "where model.pt and metrics.json go; None: runs/latest in the repository",
                                     computes=False)
    image_dir: str | None = setting(None, 'where the figures go; None: output_dir/images ("images": the README\'s)',
                                    computes=False)
    resume: bool = setting(False, "True: continue the run in output_dir from its last checkpoint", computes=False)
    min_joint_acc: float = setting(0.99, "the notebook's last cell fails below this joint accuracy", computes=False)
    export_path: str | None = setting(None, 'also write the trained weights there, without optimizer state', computes=False)

    def __post_init__(self):
        check_fields(self, positive=("epochs", "batch_size", "log_interval"), non_negative=("seed", "val_size"),
                     optional_positive=("train_size",),
                     ranges={"lr": (math.inf, "a non-negative number"), "weight_decay": (math.inf, "a non-negative number"),
                             "label_smoothing": (1, "a number in [0, 1)"), "elastic": (math.inf, "a non-negative number"),
                             "min_joint_acc": (1.0000001, "a number in [0, 1]")},
                     flags=("resume", "centre_input", "recalibrate_bn"),
                     paths=("data_dir", "output_dir", "image_dir", "export_path"))
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


def make_training(config: Config, n_train: int, channels_last: bool = True, device="cpu"):
    """Seeded model (initialised on the CPU, then moved: the same weights on every device; float64 for an "fp64" run), AdamW
    optimizer (its fused implementation, one kernel per step, where torch has one) and one-cycle schedule."""
    torch.manual_seed(config.seed)
    model = Net.from_config(config, channels_last).to(device, weight_dtype(config.precision))
    optimizer, scheduler = make_optimizer(model.parameters(), config.lr, config.weight_decay, config.epochs,
                                          math.ceil(n_train / config.batch_size), device)
    return model, optimizer, scheduler


def fit(config: Config, data: MNISTData, log=print) -> dict:
    """Train for `config.epochs`, evaluating after each epoch, checkpointing to output_dir.

    Writes `{output_dir}/model.pt` (atomically, every epoch) and `{output_dir}/metrics.json`.
    With `config.resume` it continues from the checkpoint there. Returns the run's state:
    model, metrics and the last evaluation.
    """
    if not isinstance(config, Config):
        raise TypeError(f"fit needs a Config (helpers.digit_and_sum.runs: checked settings), got {type(config).__name__}")
    config, precision_reason = config.resolution()
    device = torch.device(config.device)
    out = config.output_path
    out.mkdir(parents=True, exist_ok=True)
    model, optimizer, scheduler = make_training(config, len(data.train_x), device=device)
    data = data.to(device, weight_dtype(config.precision))
    history, train_log, first_epoch = [], [], 1
    if config.resume and (out / "model.pt").exists():
        state = read_checkpoint(out / "model.pt")
        changed = [k for k in TRAINING_PARAMS if state["params"].get(k, ADDED_PARAMS.get(k)) != getattr(config, k)]
        if changed:
            raise ValueError(f"cannot resume {out / 'model.pt'}: it was trained with other "
                             + ", ".join(f"{k}={state['params'].get(k)!r}" for k in changed))
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, train_log, first_epoch = state["history"], state["train_log"], state["epoch"] + 1
        log(f"Resumed from {out / 'model.pt'} after epoch {state['epoch']}")
    numbers = eval_numbers(len(data.eval_x))
    run_versions = {**versions(config.device), "precision": precision_reason}  # once: they do not change during a run
    result = None
    with full_fp32(device, config.precision):  # "fp32" means fp32 on every device
        for epoch in range(first_epoch, config.epochs + 1):
            synchronize(device)
            start = time.perf_counter()
            train_loss, logged = train_epoch(model, data, optimizer, scheduler, epoch, config, log)
            train_loss = train_loss.item()
            if config.recalibrate_bn and epoch == config.epochs:  # part of the training time
                recalibrate_batch_norm(model, data.train_x, config.precision)
            synchronize(device)
            seconds = time.perf_counter() - start
            result = evaluate(model, data.eval_x, data.eval_y, numbers)
            n = len(data.eval_y)
            log(f"\n{data.eval_name.capitalize()} set: Avg. loss: {result['loss']:.4f}, "
                f"Accuracy: {result['correct']}/{n} ({100 * result['joint_acc']:.0f}%)")
            log(f"Epoch {epoch}: digit {result['digit_acc']:.2%}  sum {result['sum_acc']:.2%}  "
                f"joint {result['joint_acc']:.2%}  invalid codes {result['invalid']}  ({seconds:.1f} s)\n")
            history.append({"epoch": epoch, "train_loss": train_loss, "seconds": seconds,
                            f"{data.eval_name}_loss": result["loss"], **{k: result[k] for k in (*ACCURACIES, "invalid")}})
            train_log += logged
            save_checkpoint(out / "model.pt", model, data, config, epoch, history, train_log, optimizer, scheduler,
                            run_versions)
            write_metrics(out / "metrics.json", config, run_versions, history, train_log, data)
        if result is None:  # resumed a finished run: evaluate what it left
            result = evaluate(model, data.eval_x, data.eval_y, numbers)
        held = held_out_pairs(config.holdout, config.seed)
        exhaustive = {**evaluate_exhaustive(model, data.eval_x, data.eval_y, held if config.holdout else None),
                      "coverage": cell_coverage(held)}
    metrics = write_metrics(out / "metrics.json", config, run_versions, history, train_log, data, exhaustive)
    return {"model": model, "metrics": metrics, "result": result, "numbers": numbers}


# -------------------------------------------------------------------------------------------- metrics

def write_metrics(path: Path, config: Config, run_versions: dict, history: list, train_log: list, data: MNISTData,
                  exhaustive: dict | None = None) -> dict:
    """metrics.json: parameters, versions (`versions()`), per-epoch history, final accuracies, train time,
    and, once training is done, the exhaustive evaluation."""
    metrics = {
        "task": TASK,
        "params": config.to_dict(),
        "versions": run_versions,
        "data": {"eval_set": data.eval_name, "mean": data.mean, "std": data.std},
        "history": history,
        "final": {k: history[-1][k] for k in ACCURACIES},
        "train_seconds": sum(h["seconds"] for h in history),
        "exhaustive": exhaustive,
        "train_log": train_log,
    }
    write_json(path, metrics)
    return metrics


__all__ = ["AUGMENTS", "Config", "PARAMS", "TRAINING_PARAMS", "ADDED_PARAMS", "make_training", "fit", "write_metrics"]
