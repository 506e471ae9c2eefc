"""Sweeps: run the primary notebook through papermill for configurations x seeds, then summarize.

    python sweep.py                         # every configuration in SWEEPS, seeds 1 2 3
    python sweep.py softmax onehot --seeds 1 2 3 4 5

Run `<config>-seed<k>`: the executed notebook goes to runs/sweep/<run>.ipynb, its metrics.json to
results/<run>/metrics.json. A run whose metrics.json is complete is not repeated (--force repeats
it). Last, results/summary.md is written from everything in results/, so re-running the command
regenerates the table the README shows.
"""
import argparse
import ast
import json
import statistics
from pathlib import Path

import papermill

import helpers

RESULTS = helpers.ROOT / "results"

# Overrides of the notebook's parameters cell, one configuration each.
SWEEPS = {
    "binary": {},  # the notebook's defaults: the original's 9-bit code with BCE
    "onehot": {"encoding": "onehot"},
    "softmax": {"encoding": "softmax"},
    "binary-holdout": {"holdout": True},
    "onehot-holdout": {"encoding": "onehot", "holdout": True},
    "softmax-holdout": {"encoding": "softmax", "holdout": True},
    "wide": {"backbone": "wide"},  # a stronger backbone, same head and 9-bit code (issue 3)
}


def run(config: str, seed: int, force: bool = False, overrides: dict | None = None, results: Path = RESULTS) -> None:
    name = f"{config}-seed{seed}"
    out = results / name
    if not force and (out / "metrics.json").exists() and json.loads((out / "metrics.json").read_text())["exhaustive"]:
        print(f"{name}: done already", flush=True)
        return
    print(f"{name}: running {SWEEPS[config]}", flush=True)
    (helpers.ROOT / "runs" / "sweep").mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(helpers.NOTEBOOK), str(helpers.ROOT / "runs" / "sweep" / f"{name}.ipynb"),
        parameters={**SWEEPS[config], **(overrides or {}), "seed": seed, "output_dir": str(out), "image_dir": None,
                    "min_joint_acc": 0.0},
        cwd=str(helpers.ROOT), progress_bar=False)


def load_results(results=RESULTS) -> dict[str, list[dict]]:
    """Every run's metrics in results/, grouped by configuration (the run name less `-seed<k>`)."""
    groups = {}
    for path in sorted(results.glob("*/metrics.json")):
        config = path.parent.name.rsplit("-seed", 1)[0]
        groups.setdefault(config, []).append(json.loads(path.read_text()))
    order = list(SWEEPS)
    return dict(sorted(groups.items(), key=lambda item: (order.index(item[0]) if item[0] in order else len(order), item[0])))


def mean_std(values) -> str:
    values = list(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * std:.2f}"


def first_epoch_at(history: list, target: float = 0.99):
    return next((h["epoch"] for h in history if h["joint_acc"] >= target), None)


def summary_rows(groups: dict) -> list[dict]:
    """One row per configuration: n, mean ± std of the final accuracies, and what the ablation asks."""
    rows = []
    for config, runs in groups.items():
        epochs99 = [first_epoch_at(r["history"]) for r in runs]
        rows.append({
            "config": config, "n": len(runs),
            **{k: mean_std(r["final"][k] for r in runs) for k in helpers.ACCURACIES},
            "train_seconds": statistics.mean(r["train_seconds"] for r in runs),
            "epoch_99": ", ".join(str(e) if e else "never" for e in epochs99),
            "invalid": statistics.mean(r["exhaustive"]["invalid"] / r["exhaustive"]["pairs"] for r in runs),
            "heldout": mean_std(r["exhaustive"]["heldout_pairs"]["joint_acc"] for r in runs),
            "seen": mean_std(r["exhaustive"]["seen_pairs"]["joint_acc"] for r in runs),
        })
    return rows


def write_summary(groups: dict, path=RESULTS / "summary.md") -> str:
    lines = [
        "# Sweep results",
        "",
        "Written by `python sweep.py` from `results/*/metrics.json`; accuracies in %, mean ± std over n seeds,",
        "on the fixed test pairs after the last epoch. *epoch at 99%*: the first epoch whose joint accuracy",
        "reached 99%, per seed. *invalid*: share of the 100,000 exhaustive pairs with an invalid output code.",
        "*held-out* / *other pairs*: joint accuracy over every test image with the 10 pairs (d, 3d+7 mod 10)",
        "and with the other 90 (in `-holdout` runs those 10 pairs were never trained on).",
        "",
        "| configuration | n | digit | sum | joint | train s | epoch at 99% | invalid | held-out pairs | other pairs |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary_rows(groups):
        lines.append(f"| {r['config']} | {r['n']} | {r['digit_acc']} | {r['sum_acc']} | {r['joint_acc']} | "
                     f"{r['train_seconds']:.0f} | {r['epoch_99']} | {r['invalid']:.3%} | {r['heldout']} | {r['seen']} |")
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="*", help=f"any of {', '.join(SWEEPS)} (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--force", action="store_true", help="repeat runs that have results already")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override a notebook parameter for every run, e.g. -p val_size 10000")
    parser.add_argument("--device", help="the notebook's device for every run (default: its own, 'auto')")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the runs' metrics go (default: results/)")
    args = parser.parse_args()
    if set(args.configs) - set(SWEEPS):
        parser.error(f"unknown configuration {sorted(set(args.configs) - set(SWEEPS))}; choose from {', '.join(SWEEPS)}")
    overrides = {name: parse_value(value) for name, value in args.p}
    if unknown := set(overrides) - set(helpers.PARAMS):
        parser.error(f"unknown parameter {sorted(unknown)}; the notebook's are {', '.join(helpers.PARAMS)}")
    if args.device:
        overrides["device"] = args.device
    args.results.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for config in args.configs or SWEEPS:
            run(config, seed, args.force, overrides, args.results)
    print(write_summary(load_results(args.results), args.results / "summary.md"))


def parse_value(text: str):
    """A parameter's value as Python reads it (10, 0.5, True, None, "bf16"); anything else is a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


if __name__ == "__main__":
    main()
