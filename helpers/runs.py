"""A run: its typed, checked settings (Config), training with checkpoints, and what it writes (model.pt, metrics.json)."""
from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
import torchvision

from .paths import ROOT, RUNS
from .device import choose_precision, device_name, full_fp32, resolve_device, synchronize, weight_dtype
from .data import MNISTData
from .model import Net, check_model_choices
from .checkpoints import atomic_write, read_checkpoint, save_checkpoint
from .training import FIXED_HOLDOUT, MAX_HOLDOUT, cell_coverage, held_out_pairs, recalibrate_batch_norm, train_epoch
from .evaluation import ACCURACIES, eval_numbers, evaluate, evaluate_exhaustive


AUGMENTS = (False, True, "robust")  # none; random rotation, scale, shift; that and corrupted digits
_NEW = object()


def setting(default, doc: str, *, computes: bool = True, before=_NEW, read_with: str | None = None):
    """A field of `Config`: its default; `doc`, its description in one line (the notebook's parameters cell and the
    table of docs/usage.md repeat it, and tests hold them equal); `computes`: whether it changes what a run computes
    (a resumed run must match it); `before`: for a field newer than some committed runs and checkpoints, the value
    those ran with; `read_with`: the setting without which a run never reads this one (when to restart: `restarts`)."""
    metadata = ({"doc": doc, "computes": computes} | ({} if before is _NEW else {"before": before})
                | ({"read_with": read_with} if read_with else {}))
    return field(default=default, metadata=metadata)


def check_fields(settings, *, positive=(), non_negative=(), ranges=None, flags=(), paths=()) -> None:
    """The checks every class of settings shares, each failing with one message that names the setting: ints that
    must be positive or non-negative, numbers in [0, below) (`ranges`: name -> (below, what to say)), True/False
    `flags`, and `paths` (or None)."""
    for key in (*positive, *non_negative):
        value, low = getattr(settings, key), 0 if key in non_negative else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{key} must be a {'non-negative' if low == 0 else 'positive'} int, got {value!r}")
    for key, (below, wanted) in (ranges or {}).items():
        value = getattr(settings, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < below:
            raise ValueError(f"{key} must be {wanted}, got {value!r}")
    for key in flags:
        if not isinstance(getattr(settings, key), bool):
            raise ValueError(f"{key} must be True or False, got {getattr(settings, key)!r}")
    for key in paths:
        value = getattr(settings, key)
        if not (value is None or isinstance(value, (str, os.PathLike))):
            raise ValueError(f"{key} must be a path or None, got {value!r}")


@dataclass(frozen=True)
class Config:
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
    precision: str = setting("auto", '"fp32", "bf16" (autocast), "bf16|fp32" (bf16 where native) or "auto" '
                             '(the backbone\'s default); both fall back to fp32 without native bf16',
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
                     ranges={"lr": (math.inf, "a non-negative number"), "weight_decay": (math.inf, "a non-negative number"),
                             "label_smoothing": (1, "a number in [0, 1)"), "elastic": (math.inf, "a non-negative number"),
                             "min_joint_acc": (1.0000001, "a number in [0, 1]")},
                     flags=("resume", "centre_input", "recalibrate_bn"),
                     paths=("data_dir", "output_dir", "image_dir", "export_path"))
        if self.train_size is not None and (isinstance(self.train_size, bool) or not isinstance(self.train_size, int)
                                            or self.train_size < 1):
            raise ValueError(f"train_size must be None or a positive int, got {self.train_size!r}")
        check_model_choices(self.backbone, self.encoding, self.number_input, self.head)
        if not (isinstance(self.augment, bool) or self.augment == "robust"):
            raise ValueError(f"augment must be one of {AUGMENTS}, got {self.augment!r}")
        holdout = self.holdout
        if holdout != FIXED_HOLDOUT and (isinstance(holdout, bool) or not isinstance(holdout, int)
                                         or not 0 <= holdout <= MAX_HOLDOUT):
            raise ValueError(f"holdout must be a number of pairs 0..{MAX_HOLDOUT} or {FIXED_HOLDOUT!r}, got {holdout!r}")

    @classmethod
    def from_namespace(cls, namespace: dict) -> "Config":
        """The notebook's parameters (its `globals()` after papermill's injection), checked."""
        return cls(**{name: namespace[name] for name in PARAMS})

    def resolution(self) -> tuple["Config", str]:
        """The same with "auto" (or a device alias) replaced by the device and precision the run uses, and why that
        precision, in words (`choose_precision`)."""
        device = resolve_device(self.device)
        precision, why = choose_precision(self.precision, self.backbone, device)
        return replace(self, device=str(device), precision=precision), why

    def resolved(self) -> "Config":
        """`resolution()`'s settings."""
        return self.resolution()[0]

    @property
    def output_path(self) -> Path:
        """`output_dir` (relative to the working directory), or runs/latest in the repository."""
        return Path(self.output_dir).expanduser() if self.output_dir else RUNS / "latest"

    @property
    def image_path(self) -> Path:
        """`image_dir` (relative to the working directory), or the run's images/ folder."""
        return Path(self.image_dir).expanduser() if self.image_dir else self.output_path / "images"

    def to_dict(self) -> dict:
        """The settings as JSON-ready values (paths as strings), for metrics.json and checkpoints."""
        return {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in asdict(self).items()}


PARAMS = tuple(f.name for f in fields(Config))
# What a resumed run must match (the device is not among them: a run may resume on another device, with close,
# not bit-identical, numbers); and what older runs and checkpoints, which lack a newer field, ran with.
TRAINING_PARAMS = tuple(f.name for f in fields(Config) if f.metadata["computes"])
ADDED_PARAMS = {f.name: f.metadata["before"] for f in fields(Config) if "before" in f.metadata}


def literal(value) -> str:
    """A default as Python source, strings in double quotes."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def parameters_cell(settings=None) -> str:
    """A notebook's `parameters` cell: every setting as a literal (papermill injects over them) with its
    description, written from `Config` (or another class of `setting` fields; a test holds each notebook's cell
    equal to it)."""
    settings = fields(settings or Config)
    lines = [f"{f.name} = {literal(f.default)}" for f in settings]
    width = max(map(len, lines)) + 2
    return "\n".join(f"{line:<{width}}# {f.metadata['doc']}" for line, f in zip(lines, settings))


def parameter_table(settings=None) -> str:
    """The table of the settings in docs/ (docs/usage.md's for `Config`), written from the class (a test holds each
    page's table equal to it)."""
    rows = [f"| `{f.name}` | `{literal(f.default)}` | {f.metadata['doc']} |" for f in fields(settings or Config)]
    return "\n".join(["| parameter | default | meaning |", "|---|---|---|", *rows])


def make_training(config: Config, n_train: int, channels_last: bool = True, device="cpu"):
    """Seeded model (initialised on the CPU, then moved: the same weights on every device; float64 for an "fp64" run), AdamW
    optimizer (its fused implementation, one kernel per step, where torch has one) and one-cycle schedule."""
    torch.manual_seed(config.seed)
    model = Net.from_config(config, channels_last).to(device, weight_dtype(config.precision))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                  fused=torch.device(device).type in ("cpu", "cuda"))
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
    return {"torch": str(torch.__version__), "torchvision": str(torchvision.__version__), "python": platform.python_version(),
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


__all__ = ["AUGMENTS", "Config", "PARAMS", "TRAINING_PARAMS", "ADDED_PARAMS", "parameters_cell",
           "parameter_table", "make_training", "fit", "code_version", "versions", "write_metrics"]
