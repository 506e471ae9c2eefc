"""A run: its checked parameters, training with checkpoints, and what it writes (model.pt, metrics.json)."""
from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

import torch
import torchvision

from . import ROOT
from .device import device_name, resolve_device, resolve_precision, synchronize
from .data import MNISTData
from .encoding import ENCODINGS
from .model import BACKBONES, HEADS, NUMBER_INPUTS, Net
from .training import (ACCURACIES, FIXED_HOLDOUT, MAX_HOLDOUT, eval_numbers, evaluate, evaluate_exhaustive, held_out_pairs,
                       recalibrate_batch_norm, train_epoch)


AUGMENTS = (False, True, "robust")  # none; random rotation, scale, shift; that and corrupted digits

# Parameters that decide what a run computes; a resumed run must match them.
# The device is not among them: a run may resume on another device (same seed, other device: close,
# not bit-identical numbers).
TRAINING_PARAMS = ("epochs", "batch_size", "lr", "weight_decay", "label_smoothing", "recalibrate_bn", "seed",
                   "backbone", "head", "encoding", "number_input", "augment", "centre_input", "holdout", "val_size",
                   "train_size", "precision")
# Parameters newer than some checkpoints: what those were trained with.
ADDED_PARAMS = {"centre_input": False, "label_smoothing": 0.0, "recalibrate_bn": False, "head": "mlp"}
PARAMS = TRAINING_PARAMS + ("device", "log_interval", "data_dir", "output_dir", "image_dir", "resume", "min_joint_acc",
                            "export_path")


def resolve_hardware(params: dict) -> dict:
    """`params` with "auto" (or a device alias) replaced by the device and precision the run uses."""
    device = resolve_device(params["device"])
    return {**params, "device": str(device), "precision": resolve_precision(params["precision"], params["backbone"], device)}


def collect_params(namespace: dict) -> dict:
    """The run's parameters from the notebook's namespace, checked: a bad value fails here, clearly."""
    params = {k: namespace[k] for k in PARAMS}
    for key in ("epochs", "batch_size", "log_interval", "seed", "val_size"):
        value = params[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key in ("seed", "val_size") else 1):
            raise ValueError(f"{key} must be a {'non-negative' if key in ('seed', 'val_size') else 'positive'} int, got {value!r}")
    ranges = {"lr": (math.inf, "a non-negative number"), "weight_decay": (math.inf, "a non-negative number"),
              "label_smoothing": (1, "a number in [0, 1)")}
    for key, (below, wanted) in ranges.items():
        if isinstance(params[key], bool) or not isinstance(params[key], (int, float)) or not 0 <= params[key] < below:
            raise ValueError(f"{key} must be {wanted}, got {params[key]!r}")
    for key, choices in (("backbone", BACKBONES), ("head", HEADS), ("encoding", ENCODINGS), ("number_input", NUMBER_INPUTS)):
        if params[key] not in choices:
            raise ValueError(f"{key} must be one of {sorted(choices)}, got {params[key]!r}")
    if params["head"] != "mlp" and (params["encoding"], params["number_input"]) != ("binary", "bits"):
        raise ValueError(f"head {params['head']!r} needs encoding='binary' and number_input='bits', "
                         f"got {params['encoding']!r} and {params['number_input']!r}")
    holdout = params["holdout"]
    if holdout != FIXED_HOLDOUT and (isinstance(holdout, bool) or not isinstance(holdout, int)
                                     or not 0 <= holdout <= MAX_HOLDOUT):
        raise ValueError(f"holdout must be a number of pairs 0..{MAX_HOLDOUT} or {FIXED_HOLDOUT!r}, got {holdout!r}")
    for key in ("resume", "centre_input", "recalibrate_bn"):
        if not isinstance(params[key], bool):
            raise ValueError(f"{key} must be True or False, got {params[key]!r}")
    if not (isinstance(params["augment"], bool) or params["augment"] == "robust"):
        raise ValueError(f"augment must be one of {AUGMENTS}, got {params['augment']!r}")
    return resolve_hardware(params)


NOTEBOOK = ROOT / "notebooks" / "neural_network_on_steroids.ipynb"


def notebook_defaults(notebook=NOTEBOOK) -> dict:
    """The values of the primary notebook's `parameters` cell: the project's default configuration."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    namespace = {}
    exec(source, namespace)
    return {k: namespace[k] for k in PARAMS}


def make_training(params: dict, n_train: int, channels_last: bool = True, device="cpu"):
    """Seeded model (initialised on the CPU, then moved: the same weights on every device), AdamW
    optimizer and one-cycle schedule for `params`."""
    torch.manual_seed(params["seed"])
    model = Net(params["backbone"], params["encoding"], channels_last, params["number_input"],
                params["centre_input"], params["head"]).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params["lr"], weight_decay=params["weight_decay"])
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=params["lr"], epochs=params["epochs"],
        steps_per_epoch=math.ceil(n_train / params["batch_size"]))
    return model, optimizer, scheduler


def fit(params: dict, data: MNISTData, log=print) -> dict:
    """Train for `params["epochs"]`, evaluating after each epoch, checkpointing to output_dir.

    Writes `{output_dir}/model.pt` (atomically, every epoch) and `{output_dir}/metrics.json`.
    With `params["resume"]` it continues from the checkpoint there. Returns the run's state:
    model, metrics and the last evaluation.
    """
    params = resolve_hardware(params)
    device = torch.device(params["device"])
    out = resolve(params["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    model, optimizer, scheduler = make_training(params, len(data.train_x), device=device)
    data = data.to(device)
    history, train_log, first_epoch = [], [], 1
    if params.get("resume") and (out / "model.pt").exists():
        state = read_checkpoint(out / "model.pt")
        changed = [k for k in TRAINING_PARAMS if state["params"].get(k, ADDED_PARAMS.get(k)) != params[k]]
        if changed:
            raise ValueError(f"cannot resume {out / 'model.pt'}: it was trained with other "
                             + ", ".join(f"{k}={state['params'].get(k)!r}" for k in changed))
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, train_log, first_epoch = state["history"], state["train_log"], state["epoch"] + 1
        log(f"Resumed from {out / 'model.pt'} after epoch {state['epoch']}")
    numbers = eval_numbers(len(data.eval_x))
    result = None
    for epoch in range(first_epoch, params["epochs"] + 1):
        synchronize(device)
        start = time.perf_counter()
        train_loss, logged = train_epoch(model, data, optimizer, scheduler, epoch, params, log)
        if params["recalibrate_bn"] and epoch == params["epochs"]:  # part of the training time
            recalibrate_batch_norm(model, data.train_x, params["precision"])
        synchronize(device)
        seconds = time.perf_counter() - start
        result = evaluate(model, data.eval_x, data.eval_y, numbers)
        n = len(data.eval_y)
        log(f"\n{data.eval_name.capitalize()} set: Avg. loss: {result['test_loss']:.4f}, "
            f"Accuracy: {result['correct']}/{n} ({100 * result['joint_acc']:.0f}%)")
        log(f"Epoch {epoch}: digit {result['digit_acc']:.2%}  sum {result['sum_acc']:.2%}  "
            f"joint {result['joint_acc']:.2%}  invalid codes {result['invalid']}  ({seconds:.1f} s)\n")
        history.append({"epoch": epoch, "train_loss": train_loss, "seconds": seconds,
                        **{k: result[k] for k in ("test_loss", *ACCURACIES, "invalid")}})
        train_log += logged
        save_checkpoint(out / "model.pt", model, data, params, epoch, history, train_log, optimizer, scheduler)
        write_metrics(out / "metrics.json", params, history, train_log, data)
    if result is None:  # resumed a finished run: evaluate what it left
        result = evaluate(model, data.eval_x, data.eval_y, numbers)
    held = held_out_pairs(params["holdout"], params["seed"]) if params["holdout"] else None
    exhaustive = evaluate_exhaustive(model, data.eval_x, data.eval_y, held)
    metrics = write_metrics(out / "metrics.json", params, history, train_log, data, exhaustive)
    return {"model": model, "metrics": metrics, "result": result, "numbers": numbers}


# -------------------------------------------------------------------------- checkpoints and metrics

CHECKPOINT_FORMAT = "neural-network-on-steroids/1"


def resolve(path) -> Path:
    """A path from the parameters: relative ones are relative to the repository root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else ROOT / path


def atomic_write(path: Path, write) -> None:
    """Call `write(tmp_path)`, then rename onto `path`: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def json_params(params: dict) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in params.items()}


def save_checkpoint(path: Path, model, data: MNISTData, params: dict, epoch: int, history: list,
                    train_log: list, optimizer=None, scheduler=None) -> None:
    """Everything needed to predict (weights, normalization) and to resume (optimizer, schedule)."""
    state = {
        "format": CHECKPOINT_FORMAT, "backbone": model.backbone_name, "head": model.head_name, "encoding": model.encoding,
        "number_input": model.number_input, "centre_input": model.centre_input,
        "mean": data.mean, "std": data.std,
        "model": model.state_dict(), "params": json_params(params), "epoch": epoch,
        "history": history, "train_log": train_log,
        "optimizer": optimizer.state_dict() if optimizer else None,
        "scheduler": scheduler.state_dict() if scheduler else None,
    }
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def read_checkpoint(path) -> dict:
    """A checkpoint's contents, loaded with weights_only=True so it can never run code."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path} is not a readable checkpoint (truncated or not a torch file): "
                         f"{str(error).strip().splitlines()[0]}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a checkpoint of this project (expected format {CHECKPOINT_FORMAT!r})")
    return state


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


def write_metrics(path: Path, params: dict, history: list, train_log: list, data: MNISTData,
                  exhaustive: dict | None = None) -> dict:
    """metrics.json: parameters, library versions, per-epoch history, final accuracies, train time,
    and, once training is done, the exhaustive evaluation."""
    metrics = {
        "params": json_params(params),
        "versions": versions(params["device"]),
        "data": {"eval_set": data.eval_name, "mean": data.mean, "std": data.std},
        "history": history,
        "final": {k: history[-1][k] for k in ACCURACIES},
        "train_seconds": sum(h["seconds"] for h in history),
        "exhaustive": exhaustive,
        "train_log": train_log,
    }
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(metrics, indent=1)))
    return metrics


def mean_std(values, digits: int = 2) -> str:
    """Accuracies (fractions) of several runs as "mean ± std" in percent; the std over seeds is the sample std."""
    values = list(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.{digits}f} ± {100 * std:.{digits}f}"
