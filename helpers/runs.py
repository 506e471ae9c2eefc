"""A run: its typed, checked settings (Config), training with checkpoints, and what it writes (model.pt, metrics.json)."""
from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch
import torchvision

from . import ROOT
from .device import device_name, resolve_device, resolve_precision, synchronize
from .data import MNISTData
from .model import Net, check_model_choices
from .checkpoints import atomic_write, read_checkpoint, resolve, save_checkpoint
from .training import (ACCURACIES, FIXED_HOLDOUT, MAX_HOLDOUT, eval_numbers, evaluate, evaluate_exhaustive, held_out_pairs,
                       recalibrate_batch_norm, train_epoch)


AUGMENTS = (False, True, "robust")  # none; random rotation, scale, shift; that and corrupted digits


@dataclass(frozen=True)
class Config:
    """A run's settings, typed and checked: the defaults here are the notebook's (its `parameters` cell repeats
    them as papermill needs literals; a test holds the two equal). A bad value fails on construction, clearly.
    `resolved()` names the device and precision "auto" stands for; `fit` takes only a Config."""

    epochs: int = 10  # training epochs
    batch_size: int = 128
    lr: float = 0.01  # peak learning rate of the one-cycle schedule (AdamW)
    weight_decay: float = 0.01
    label_smoothing: float = 0.0  # ε > 0: BCE towards (1 - ε) t + ε / 2 instead of the hard 0/1 bits
    recalibrate_bn: bool = False  # the last epoch ends by re-estimating batch norm's statistics on the clean images
    seed: int = 1  # initialisation, shuffling, augmentation, the number sampler and dropout
    device: str = "auto"  # the accelerator if there is one, else the CPU; or "cpu", "cuda:1", ...
    precision: str = "auto"  # "fp32" or "bf16" (autocast); "auto": the backbone's measured default
    backbone: str = "bn"  # BACKBONES
    head: str = "mlp"  # HEADS: "mlp" the original's; "line", "adder", "symadder" structured for addition
    encoding: str = "binary"  # the original's 9 bits; ablation: "onehot", "softmax"
    number_input: str = "bits"  # the original's 4 bits; ablation: "onehot", "scalar"
    augment: bool | str = True  # random rotation, scale, shift; "robust": also corrupted digits
    centre_input: bool = False  # the model centres each image by its ink's centre of mass first
    holdout: int | str = 0  # k > 0: never train on k of the 100 (digit, number) pairs; "3d+7": a fixed 10
    val_size: int = 0  # > 0: evaluate on a validation split of this size carved from the training set
    train_size: int | None = None  # only the first N training images (smoke runs)
    log_interval: int = 100  # batches between training log lines
    data_dir: str | None = None  # None: $MNIST_DATA_DIR, else data/ in the repository
    output_dir: str = "runs/latest"  # model.pt and metrics.json go here
    image_dir: str | None = None  # figures go here; None: output_dir/images
    resume: bool = False  # continue the run in output_dir from its last checkpoint
    min_joint_acc: float = 0.99  # the notebook's last cell fails below this joint accuracy
    export_path: str | None = None  # also write the trained weights there, without optimizer state

    def __post_init__(self):
        for key in ("epochs", "batch_size", "log_interval", "seed", "val_size"):
            value, low = getattr(self, key), 0 if key in ("seed", "val_size") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{key} must be a {'non-negative' if low == 0 else 'positive'} int, got {value!r}")
        if self.train_size is not None and (isinstance(self.train_size, bool) or not isinstance(self.train_size, int)
                                            or self.train_size < 1):
            raise ValueError(f"train_size must be None or a positive int, got {self.train_size!r}")
        ranges = {"lr": (math.inf, "a non-negative number"), "weight_decay": (math.inf, "a non-negative number"),
                  "label_smoothing": (1, "a number in [0, 1)"), "min_joint_acc": (1.0000001, "a number in [0, 1]")}
        for key, (below, wanted) in ranges.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < below:
                raise ValueError(f"{key} must be {wanted}, got {value!r}")
        check_model_choices(self.backbone, self.encoding, self.number_input, self.head)
        if not (isinstance(self.augment, bool) or self.augment == "robust"):
            raise ValueError(f"augment must be one of {AUGMENTS}, got {self.augment!r}")
        holdout = self.holdout
        if holdout != FIXED_HOLDOUT and (isinstance(holdout, bool) or not isinstance(holdout, int)
                                         or not 0 <= holdout <= MAX_HOLDOUT):
            raise ValueError(f"holdout must be a number of pairs 0..{MAX_HOLDOUT} or {FIXED_HOLDOUT!r}, got {holdout!r}")
        for key in ("resume", "centre_input", "recalibrate_bn"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"{key} must be True or False, got {getattr(self, key)!r}")
        for key in ("data_dir", "output_dir", "image_dir", "export_path"):
            value = getattr(self, key)
            if not (isinstance(value, (str, os.PathLike)) or value is None and key != "output_dir"):
                raise ValueError(f"{key} must be a path{'' if key == 'output_dir' else ' or None'}, got {value!r}")

    @classmethod
    def from_namespace(cls, namespace: dict) -> "Config":
        """The notebook's parameters (its `globals()` after papermill's injection), checked."""
        return cls(**{name: namespace[name] for name in PARAMS})

    def resolved(self) -> "Config":
        """The same with "auto" (or a device alias) replaced by the device and precision the run uses."""
        device = resolve_device(self.device)
        return replace(self, device=str(device), precision=resolve_precision(self.precision, self.backbone, device))

    def to_dict(self) -> dict:
        """The settings as JSON-ready values (paths as strings), for metrics.json and checkpoints."""
        return {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in asdict(self).items()}


PARAMS = tuple(f.name for f in fields(Config))
# Parameters that decide what a run computes; a resumed run must match them.
# The device is not among them: a run may resume on another device (same seed, other device: close,
# not bit-identical numbers).
TRAINING_PARAMS = ("epochs", "batch_size", "lr", "weight_decay", "label_smoothing", "recalibrate_bn", "seed",
                   "backbone", "head", "encoding", "number_input", "augment", "centre_input", "holdout", "val_size",
                   "train_size", "precision")
# Parameters newer than some checkpoints and committed runs: what those were trained with.
ADDED_PARAMS = {"number_input": "bits", "centre_input": False, "label_smoothing": 0.0, "recalibrate_bn": False,
                "head": "mlp", "precision": "fp32"}
NOTEBOOK = ROOT / "notebooks" / "neural_network_on_steroids.ipynb"


def make_training(config: Config, n_train: int, channels_last: bool = True, device="cpu"):
    """Seeded model (initialised on the CPU, then moved: the same weights on every device), AdamW
    optimizer and one-cycle schedule for `config`."""
    torch.manual_seed(config.seed)
    model = Net(config.backbone, config.encoding, channels_last, config.number_input, config.centre_input,
                config.head).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, epochs=config.epochs, steps_per_epoch=math.ceil(n_train / config.batch_size))
    return model, optimizer, scheduler


def fit(config: Config, data: MNISTData, log=print) -> dict:
    """Train for `config.epochs`, evaluating after each epoch, checkpointing to output_dir.

    Writes `{output_dir}/model.pt` (atomically, every epoch) and `{output_dir}/metrics.json`.
    With `config.resume` it continues from the checkpoint there. Returns the run's state:
    model, metrics and the last evaluation.
    """
    if not isinstance(config, Config):
        raise TypeError(f"fit needs a helpers.Config (checked settings), got {type(config).__name__}")
    config = config.resolved()
    device = torch.device(config.device)
    out = resolve(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model, optimizer, scheduler = make_training(config, len(data.train_x), device=device)
    data = data.to(device)
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
    run_versions = versions(config.device)  # once: the code and libraries do not change during a run
    result = None
    for epoch in range(first_epoch, config.epochs + 1):
        synchronize(device)
        start = time.perf_counter()
        train_loss, logged = train_epoch(model, data, optimizer, scheduler, epoch, config, log)
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
        save_checkpoint(out / "model.pt", model, data, config, epoch, history, train_log, optimizer, scheduler)
        write_metrics(out / "metrics.json", config, run_versions, history, train_log, data)
    if result is None:  # resumed a finished run: evaluate what it left
        result = evaluate(model, data.eval_x, data.eval_y, numbers)
    held = held_out_pairs(config.holdout, config.seed) if config.holdout else None
    exhaustive = evaluate_exhaustive(model, data.eval_x, data.eval_y, held)
    metrics = write_metrics(out / "metrics.json", config, run_versions, history, train_log, data, exhaustive)
    return {"model": model, "metrics": metrics, "result": result, "numbers": numbers}


# -------------------------------------------------------------------------------------------- metrics

def code_version(root=ROOT) -> dict | None:
    """The git commit of the code a run ran and whether the tree had changes (results/ and runs/ aside, which runs
    write to); None outside a git checkout."""
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        changes = git("status", "--porcelain", "--", ".", ":(exclude)results", ":(exclude)runs")
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "dirty": bool(changes)}


def versions(device="cpu") -> dict:
    """Library versions, the name of the device a run used, and the code's git commit (`code_version`)."""
    return {"torch": torch.__version__, "torchvision": torchvision.__version__, "python": platform.python_version(),
            "device": device_name(torch.device(device)), "code": code_version()}


def write_metrics(path: Path, config: Config, run_versions: dict, history: list, train_log: list, data: MNISTData,
                  exhaustive: dict | None = None) -> dict:
    """metrics.json: parameters, versions (`versions()`), per-epoch history, final accuracies, train time,
    and, once training is done, the exhaustive evaluation."""
    metrics = {
        "params": config.to_dict(),
        "versions": run_versions,
        "data": {"eval_set": data.eval_name, "mean": data.mean, "std": data.std},
        "history": history,
        "final": {k: history[-1][k] for k in ACCURACIES},
        "train_seconds": sum(h["seconds"] for h in history),
        "exhaustive": exhaustive,
        "train_log": train_log,
    }
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(metrics, indent=1)))
    return metrics


__all__ = ["AUGMENTS", "Config", "PARAMS", "TRAINING_PARAMS", "ADDED_PARAMS", "NOTEBOOK", "make_training",
           "fit", "code_version", "versions", "write_metrics"]
