"""Files a run writes: atomically (readers never see half a file), checkpoints in one format for both tasks (a
`format` each task names, the `task` it belongs to, the weights and whatever the task keeps), read back safely."""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch


def atomic_write(path: Path, write) -> None:
    """Call `write(tmp_path)`, then rename onto `path`: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_json(path: Path, value) -> None:
    """`value` as indented JSON at `path`, atomically (metrics.json)."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(value, indent=1)))


def save_state(path: Path, state: dict) -> None:
    """A checkpoint (`state`: its `format`, `task`, `model` weights and the rest), atomically."""
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def read_state(path, kind: str) -> dict:
    """A checkpoint's contents, loaded with weights_only=True so it can never run code; `kind` is the format it must
    declare (each task writes its own)."""
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


__all__ = ["atomic_write", "write_json", "save_state", "read_state"]
