"""A run's plumbing, the same for both tasks: starting it (settings resolved, its folder, where and with what it
ran), its metrics.json, and a folder of runs read back."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .files import write_json
from .provenance import versions


def start_run(settings):
    """A run's start: its settings with "auto" resolved (`Settings.resolve`), its device, its output folder (made),
    and what it records of where it ran (library versions, the device's name, the git commit of the code it imported)
    and why its precision."""
    settings, why = settings.resolve()
    out = settings.output_path
    out.mkdir(parents=True, exist_ok=True)
    return settings, torch.device(settings.device), out, {**versions(settings.device), "precision": why}


def write_metrics(out: Path, task: str, settings, run_versions: dict, data: dict, history: list, train_log: list,
                  final: dict, train_seconds: float, **more) -> dict:
    """<out>/metrics.json, atomically, and the same dict back: which `task` wrote it, the settings, where it ran
    (`start_run`), the data it read, per-epoch `history`, the logged steps, the `final` numbers, the seconds of
    training, and what else the task records (`more`)."""
    metrics = {"task": task, "params": settings.to_dict(), "versions": run_versions, "data": data, "history": history,
               "final": final, "train_seconds": train_seconds, **more, "train_log": train_log}
    write_json(out / "metrics.json", metrics)
    return metrics


def load_runs(folder, task: str, upgrade=None) -> list[tuple[str, dict]]:
    """(run name, metrics) of every run of `task` in `folder` (each run a folder holding metrics.json), by name;
    `upgrade` first brings an older metrics.json to today's schema (its task named)."""
    runs = []
    for path in sorted(Path(folder).glob("*/metrics.json")):
        metrics = json.loads(path.read_text())
        metrics = upgrade(metrics) if upgrade else metrics
        if metrics.get("task") == task:
            runs.append((path.parent.name, metrics))
    return runs


def config_of(run_name: str) -> str:
    """A run's configuration: its folder's name less `-seed<k>`."""
    return run_name.rsplit("-seed", 1)[0]


__all__ = ["start_run", "write_metrics", "load_runs", "config_of"]
