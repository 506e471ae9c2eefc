"""Files a run writes, atomically: a reader never sees half a file (metrics.json, checkpoints, summaries)."""
from __future__ import annotations

import json
import os
from pathlib import Path


def atomic_write(path: Path, write) -> None:
    """Call `write(tmp_path)`, then rename onto `path`: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_json(path: Path, value) -> None:
    """`value` as indented JSON at `path`, atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(value, indent=1)))


__all__ = ["atomic_write", "write_json"]
