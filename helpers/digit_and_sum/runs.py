"""A run of the primary task: its typed, checked settings (Config), training with checkpoints (`fit`), and what it
writes (model.pt, metrics.json with provenance)."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from ..core.backbones import DEFAULT_PRECISION
from ..core.checkpoints import write_json
from ..core.device import full_fp32, stopwatch, weight_dtype
from ..core.mnist import MNISTData
from ..core.provenance import versions
from ..core.settings import Settings, check_fields, setting
from ..core.training import epoch_loss, make_optimizer
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

    # The primary notebook's parameters cell holds these, the ones a reader changes; every other setting is a
    # papermill parameter too (`-p elastic 2`), listed in docs/usage.md.
    NOTEBOOK_CELL = ("epochs", "batch_size", "lr", "seed", "device", "backbone", "head", "output_dir")

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


class Run:
    """One training run of the primary task around its epoch loop (`fit`'s, and the one the primary notebook shows):
    the seeded model, AdamW with its one-cycle schedule (`make_training`), the data on the run's device, the fixed
    numbers of the evaluation pairs, and the record. `end_epoch` records an epoch (history, `model.pt`,
    `metrics.json` in output_dir), `finish` evaluates every image with every number and writes the final metrics.

    With `config.resume` it continues from the checkpoint in output_dir: `epochs` then starts after its last epoch.
    Used as a context (`with Run(config, data) as run:`), an "fp32" run computes in fp32 on every device (`full_fp32`).
    """

    def __init__(self, config: Config, data: MNISTData, log=print):
        if not isinstance(config, Config):
            raise TypeError(f"a run needs a Config (helpers.digit_and_sum.runs: checked settings), "
                            f"got {type(config).__name__}")
        self.config, precision_reason = config.resolution()
        self.device = torch.device(self.config.device)
        self.out = self.config.output_path
        self.out.mkdir(parents=True, exist_ok=True)
        self.model, self.optimizer, self.scheduler = make_training(self.config, len(data.train_x), device=self.device)
        self.data = data.to(self.device, weight_dtype(self.config.precision))
        self.history, self.train_log, first_epoch = [], [], 1
        if self.config.resume and (self.out / "model.pt").exists():
            first_epoch = self.resume(log)
        self.epochs = range(first_epoch, self.config.epochs + 1)
        self.numbers = eval_numbers(len(self.data.eval_x))
        self.versions = {**versions(self.config.device), "precision": precision_reason}  # once: they do not change
        self.result = None
        self._fp32 = full_fp32(self.device, self.config.precision)

    def resume(self, log) -> int:
        """Load the checkpoint in output_dir (trained with the same settings); returns the epoch to continue with."""
        state = read_checkpoint(self.out / "model.pt")
        changed = [k for k in TRAINING_PARAMS if state["params"].get(k, ADDED_PARAMS.get(k)) != getattr(self.config, k)]
        if changed:
            raise ValueError(f"cannot resume {self.out / 'model.pt'}: it was trained with other "
                             + ", ".join(f"{k}={state['params'].get(k)!r}" for k in changed))
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.history, self.train_log = state["history"], state["train_log"]
        log(f"Resumed from {self.out / 'model.pt'} after epoch {state['epoch']}")
        return state["epoch"] + 1

    def __enter__(self):
        self._fp32.__enter__()
        return self

    def __exit__(self, *exception):
        return self._fp32.__exit__(*exception)

    def end_epoch(self, epoch: int, losses: list[torch.Tensor], seconds: float, result: dict) -> None:
        """Record an epoch: its training loss (each step's, weighted by its images: `epoch_loss`), every
        `log_interval`-th step's loss, its seconds of training and its evaluation; then write the checkpoint and
        metrics.json."""
        config, n = self.config, len(self.data.train_x)
        sizes = [min(config.batch_size, n - step * config.batch_size) for step in range(len(losses))]
        self.history.append({"epoch": epoch, "train_loss": epoch_loss(losses, sizes).item(), "seconds": seconds,
                             f"{self.data.eval_name}_loss": result["loss"],
                             **{k: result[k] for k in (*ACCURACIES, "invalid")}})
        self.train_log += [{"epoch": epoch, "batch": step, "seen": step * config.batch_size, "loss": losses[step].item()}
                           for step in range(0, len(losses), config.log_interval)]
        self.result = result
        save_checkpoint(self.out / "model.pt", self.model, self.data, config, epoch, self.history, self.train_log,
                        self.optimizer, self.scheduler, self.versions)
        write_metrics(self.out / "metrics.json", config, self.versions, self.history, self.train_log, self.data)

    def finish(self) -> dict:
        """Every evaluation image with every number (the held-out pairs apart), written into metrics.json; returns the
        metrics. `result` is then the last epoch's evaluation (a resumed run that had finished: evaluated here)."""
        if self.result is None:  # resumed a finished run: evaluate what it left
            self.result = evaluate(self.model, self.data.eval_x, self.data.eval_y, self.numbers)
        held = held_out_pairs(self.config.holdout, self.config.seed)
        exhaustive = {**evaluate_exhaustive(self.model, self.data.eval_x, self.data.eval_y,
                                            held if self.config.holdout else None),
                      "coverage": cell_coverage(held)}
        return write_metrics(self.out / "metrics.json", self.config, self.versions, self.history, self.train_log,
                             self.data, exhaustive)


def evaluation_line(result: dict, eval_name: str = "test") -> str:
    """An epoch's evaluation (`evaluate`'s result) in the starting design's log format."""
    n = len(result["pred_digits"])
    return (f"{eval_name.capitalize()} set: Avg. loss: {result['loss']:.4f}, "
            f"Accuracy: {result['correct']}/{n} ({100 * result['joint_acc']:.0f}%)")


def fit(config: Config, data: MNISTData, log=print) -> dict:
    """Train for `config.epochs`, evaluating after each epoch, checkpointing to output_dir (`Run`).

    Writes `{output_dir}/model.pt` (atomically, every epoch) and `{output_dir}/metrics.json`.
    With `config.resume` it continues from the checkpoint there. Returns the run's state:
    model, metrics and the last evaluation.
    """
    with Run(config, data, log) as run:
        config, model, data = run.config, run.model, run.data
        for epoch in run.epochs:
            elapsed = stopwatch(run.device)
            losses = train_epoch(model, data, run.optimizer, run.scheduler, epoch, config, log)
            if config.recalibrate_bn and epoch == config.epochs:  # part of the training time
                recalibrate_batch_norm(model, data.train_x, config.precision)
            seconds = elapsed()
            result = evaluate(model, data.eval_x, data.eval_y, run.numbers)
            log(f"\n{evaluation_line(result, data.eval_name)}")
            log(f"Epoch {epoch}: digit {result['digit_acc']:.2%}  sum {result['sum_acc']:.2%}  "
                f"joint {result['joint_acc']:.2%}  invalid codes {result['invalid']}  ({seconds:.1f} s)\n")
            run.end_epoch(epoch, losses, seconds, result)
        metrics = run.finish()
    return {"model": run.model, "metrics": metrics, "result": run.result, "numbers": run.numbers}


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


__all__ = ["AUGMENTS", "Config", "PARAMS", "TRAINING_PARAMS", "ADDED_PARAMS", "make_training", "Run", "evaluation_line", "fit",
           "write_metrics"]
