"""The robustness benchmark's results (robustness.py, docs/robustness.md): read back and tabulated."""
from __future__ import annotations

import json
from pathlib import Path

from ..core.paths import RESULTS
from ..core.shifts import SHIFTS
from ..core.stats import mean_std


def load_robustness(name: str, root=None) -> list[dict]:
    """The benchmark results of model `name` and its other seeds: results/robustness/<name>[-seed<k>]/."""
    root = RESULTS / "robustness" if root is None else Path(root)
    folders = sorted(f for f in root.glob(f"{name}*") if f.name == name or f.name.startswith(f"{name}-seed"))
    if not folders:
        raise FileNotFoundError(f"no robustness results for {name!r} in {root}: run python robustness.py --name {name}")
    return [json.loads((f / "robustness.json").read_text()) for f in folders]


def robustness_table(groups: dict[str, list[dict]]) -> str:
    """A markdown table: per shift, each model's joint accuracy at mild / middle / strong severity, mean ± std
    over its runs (seeds); then clean MNIST, the mean over all shifts, the worst middle severity and fonts."""
    names = list(groups)
    lines = ["| shift | " + " | ".join(f"{n}: mild | {n}: middle | {n}: strong" for n in names) + " |",
             "|---|" + "---|" * 3 * len(names)]
    for shift_name in SHIFTS:
        cells = [mean_std([r["shifts"][shift_name][s]["joint_acc"] for r in groups[n]], 1) for n in names for s in range(3)]
        lines.append(f"| {shift_name} | " + " | ".join(cells) + " |")
    lines += ["", "| | " + " | ".join(f"{n} (seeds: {len(groups[n])})" for n in names) + " |", "|---|" + "---|" * len(names)]
    rows = {"clean MNIST test": lambda r: r["clean"]["joint_acc"],
            "mean over shifts and severities": lambda r: r["mean_shifted_joint_acc"],
            "worst shift at middle severity": lambda r: r["min_middle_severity"][0],
            "digits from fonts": lambda r: r["fonts"]["joint_acc"]}
    for label, value in rows.items():
        lines.append(f"| {label} | " + " | ".join(mean_std(value(r) for r in groups[n]) for n in names) + " |")
    worst = {n: sorted({r["min_middle_severity"][1] for r in groups[n]}) for n in names}
    lines.append("| (which shift) | " + " | ".join(", ".join(worst[n]) for n in names) + " |")
    return "\n".join(lines) + "\n"


__all__ = ["load_robustness", "robustness_table"]
