"""The primary task's committed results: every run's metrics.json read the same way (older runs upgraded to today's
schema), and a row per configuration for `results/summary.md` (the studies add the curve and the draws)."""
from __future__ import annotations

import statistics

from ..core.paths import RESULTS
from ..core.runs import config_of, load_runs
from ..core.stats import mean_std
from .evaluation import ACCURACIES
from .pairs import FIXED_HOLDOUT
from .recipes import RECIPES
from .settings import ADDED_PARAMS, TASK


def upgrade_metrics(metrics: dict) -> dict:
    """A metrics.json of any code version in today's schema: parameters added since get the value the run used
    (`ADDED_PARAMS`; older code's `holdout=True` is today's "3d+7"), its `task` is named, `versions["code"]` is None where the run did not record its commit, and the evaluation loss is
    named by its split (`test_loss` or `validation_loss`)."""
    params = {**ADDED_PARAMS, **metrics.get("params", {})}
    if params.get("holdout") is True:  # older code's True held out the fixed pairs, today's "3d+7"
        params["holdout"] = FIXED_HOLDOUT
    versions = {"code": None, **metrics.get("versions", {})}
    split = metrics.get("data", {}).get("eval_set", "test")  # older code named the loss test_loss on either split
    history = [{(f"{split}_loss" if k == "test_loss" else k): v for k, v in h.items()} for h in metrics.get("history", [])]
    return {"task": TASK, **metrics, "params": params, "versions": versions, "history": history}


def load_results(results=RESULTS) -> dict[str, list[dict]]:
    """Every run's metrics in results/, upgraded, grouped by recipe (the run name less `-seed<k>`), in the order of
    `RECIPES`."""
    groups = {}
    for name, metrics in load_runs(results, TASK, upgrade_metrics):
        groups.setdefault(config_of(name), []).append(metrics)
    order = list(RECIPES)
    return dict(sorted(groups.items(), key=lambda item: (order.index(item[0]) if item[0] in order else len(order), item[0])))


def first_epoch_at(history: list, target: float = 0.99):
    return next((h["epoch"] for h in history if h["joint_acc"] >= target), None)


def code_of(runs: list[dict]) -> str:
    """The commits the runs came from, short, or "not recorded" for runs from before runs recorded their commit."""
    commits = sorted({r["versions"]["code"]["commit"][:7] + ("+" if r["versions"]["code"]["dirty"] else "")
                      if r["versions"]["code"] else "not recorded" for r in runs})
    return ", ".join(commits)


def summary_rows(groups: dict) -> list[dict]:
    """One row per configuration: n, mean ± std of the final accuracies, and what the ablation asks."""
    rows = []
    for config, runs in groups.items():
        epochs99 = [first_epoch_at(r["history"]) for r in runs]
        rows.append({
            "config": config, "n": len(runs),
            **{k: mean_std(r["final"][k] for r in runs) for k in ACCURACIES},
            "train_seconds": statistics.mean(r["train_seconds"] for r in runs),
            "epoch_99": ", ".join(str(e) if e else "never" for e in epochs99),
            "invalid": statistics.mean(r["exhaustive"]["invalid"] / r["exhaustive"]["pairs"] for r in runs),
            "heldout": mean_std(r["exhaustive"]["heldout_pairs"]["joint_acc"] for r in runs),
            "seen": mean_std(r["exhaustive"]["seen_pairs"]["joint_acc"] for r in runs),
            "code": code_of(runs),
        })
    return rows


__all__ = ["upgrade_metrics", "load_results", "first_epoch_at", "code_of", "summary_rows"]
