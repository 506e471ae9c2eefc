"""Checkpoints in one format for both tasks: the `format` each task names, the `task` it belongs to, the model's
weights and whatever else the task keeps; written atomically, read back safely (never running code)."""
from __future__ import annotations

from pathlib import Path

import torch

from .files import atomic_write


def save_checkpoint(path: Path, format: str, task: str, weights: dict, **fields) -> None:
    """model.pt: the checkpoint's `format`, its `task`, the model's `weights` (its state_dict) and `fields`,
    atomically."""
    state = {"format": format, "task": task, "model": weights, **fields}
    atomic_write(Path(path), lambda tmp: torch.save(state, tmp))


def read_checkpoint(path, format: str) -> dict:
    """A checkpoint's contents, loaded with weights_only=True so it can never run code; `format` is the one it must
    declare (each task writes its own)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path} is not a readable checkpoint (truncated or not a torch file): "
                         f"{str(error).strip().splitlines()[0]}") from None
    if not isinstance(state, dict) or state.get("format") != format:
        raise ValueError(f"{path} is not a checkpoint of this project (expected format {format!r})")
    return state


__all__ = ["save_checkpoint", "read_checkpoint"]
