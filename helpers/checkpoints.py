"""Checkpoints: what a run saves (weights, normalization, optimizer state), read safely, exported small, loaded as a
model; the atomic writes every run file goes through."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .data import MNISTData
from .device import resolve_device
from .model import MODEL_SETTINGS, Net


CHECKPOINT_FORMAT = "neural-network-on-steroids/1"


def atomic_write(path: Path, write) -> None:
    """Call `write(tmp_path)`, then rename onto `path`: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def save_checkpoint(path: Path, model, data: MNISTData, config, epoch: int, history: list,
                    train_log: list, optimizer=None, scheduler=None, versions: dict | None = None) -> None:
    """Everything needed to predict (weights, normalization) and to resume (optimizer, schedule), and where it came
    from (`versions`: the libraries, device and git commit of the run, as its metrics.json records them)."""
    state = {
        "format": CHECKPOINT_FORMAT, **model.settings(), "mean": data.mean, "std": data.std,
        "model": model.state_dict(), "params": config.to_dict(), "versions": versions, "epoch": epoch,
        "history": history, "train_log": train_log,
        "optimizer": optimizer.state_dict() if optimizer else None,
        "scheduler": scheduler.state_dict() if scheduler else None,
    }
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def read_checkpoint(path, kind: str = CHECKPOINT_FORMAT) -> dict:
    """A checkpoint's contents, loaded with weights_only=True so it can never run code; `kind` is the format it must
    declare (the MNIST-addition runs write their own)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path} is not a readable checkpoint (truncated or not a torch file): "
                         f"{str(error).strip().splitlines()[0]}") from None
    if not isinstance(state, dict) or state.get("format") != kind:
        raise ValueError(f"{path} is not a checkpoint of this project (expected format {kind!r})")
    return state


def export_model(checkpoint, path) -> Path:
    """Write the weights and normalization of a training checkpoint, without optimizer state (small), to `path`
    (relative to the working directory)."""
    state = read_checkpoint(checkpoint)
    state.update(optimizer=None, scheduler=None, train_log=[])
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save(state, tmp))
    return path


def load_checkpoint(path, device="cpu") -> Net:
    """The trained model of a checkpoint, in eval mode, with its normalization (`mean`, `std`), on `device`.

    A checkpoint trained on any device and in any precision loads here: weights are kept in fp32 and
    read onto the CPU first.
    """
    state = read_checkpoint(path)
    model = Net(**{k: state[k] for k in MODEL_SETTINGS if k in state})  # older ones lack some: Net's defaults, which they used
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise ValueError(f"{path} does not match the {state['backbone']!r} network: "
                         f"{str(error).splitlines()[0]}") from None
    model.mean, model.std = state["mean"], state["std"]
    return model.to(resolve_device(device)).eval()


__all__ = ["CHECKPOINT_FORMAT", "atomic_write", "save_checkpoint", "read_checkpoint", "export_model",
           "load_checkpoint"]
