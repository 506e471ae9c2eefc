"""Committed results: every run's metrics.json read the same way (older runs upgraded to today's parameters),
and the summary tables of `results/summary.md`."""
from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path

from .paths import RESULTS
from .configs import SWEEPS
from .model import HEADS
from .evaluation import ACCURACIES
from .runs import ADDED_PARAMS
from .training import FIXED_HOLDOUT
from .shifts import SHIFTS


def upgrade_metrics(metrics: dict) -> dict:
    """A metrics.json of any code version in today's schema: parameters added since get the value the run used
    (`ADDED_PARAMS`; older code's `holdout=True` is today's "3d+7"), `versions["code"]` is None where the run did not record its commit, and the evaluation loss is
    named by its split (`test_loss` or `validation_loss`)."""
    params = {**ADDED_PARAMS, **metrics.get("params", {})}
    if params.get("holdout") is True:  # older code's True held out the fixed pairs, today's "3d+7"
        params["holdout"] = FIXED_HOLDOUT
    versions = {"code": None, **metrics.get("versions", {})}
    split = metrics.get("data", {}).get("eval_set", "test")  # older code named the loss test_loss on either split
    history = [{(f"{split}_loss" if k == "test_loss" else k): v for k, v in h.items()} for h in metrics.get("history", [])]
    return {**metrics, "params": params, "versions": versions, "history": history}


def load_results(results=RESULTS) -> dict[str, list[dict]]:
    """Every run's metrics in results/, upgraded, grouped by configuration (the run name less `-seed<k>`), in the
    order of `SWEEPS`."""
    groups = {}
    for path in sorted(Path(results).glob("*/metrics.json")):
        config = path.parent.name.rsplit("-seed", 1)[0]
        groups.setdefault(config, []).append(upgrade_metrics(json.loads(path.read_text())))
    order = list(SWEEPS)
    return dict(sorted(groups.items(), key=lambda item: (order.index(item[0]) if item[0] in order else len(order), item[0])))


def mean_std(values, digits: int = 2) -> str:
    """Accuracies (fractions) of several runs as "mean ± std" in percent; the std over seeds is the sample std."""
    values = list(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.{digits}f} ± {100 * std:.{digits}f}"


def first_epoch_at(history: list, target: float = 0.99):
    return next((h["epoch"] for h in history if h["joint_acc"] >= target), None)


def code_of(runs: list[dict]) -> str:
    """The commits the runs came from, short, or "before provenance" for runs that did not record one."""
    commits = sorted({r["versions"]["code"]["commit"][:7] + ("+" if r["versions"]["code"]["dirty"] else "")
                      if r["versions"]["code"] else "before provenance" for r in runs})
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


def curve_groups(groups: dict) -> dict[str, list[dict]]:
    """The runs of the generalization curve: the `<name>-k<k>` configurations (k pairs held out)."""
    return {config: runs for config, runs in groups.items() if re.search(r"-k\d+$", config)}


def curve_rows(groups: dict) -> list[dict]:
    """The generalization curve: the `<name>-k<k>` configurations, per head, output encoding and number input code
    and k, held-out and seen pairs' joint and sum accuracy over every test image, the held-out pairs' sum over the
    images whose digit was read right, the numbers 10..15 never drawn in training (mean ± std over seeds), and how
    many runs' cells came out exact. "–" where the runs' code did not record it."""
    rows = []
    for config, runs in curve_groups(groups).items():
        params, results = runs[0]["params"], [r["exhaustive"] for r in runs]
        unseen = [e.get("unseen_numbers") for e in results]
        given = [e["heldout_pairs"].get("sum_given_digit") for e in results]
        exact = [e["cell_exact"] for e in results if "cell_exact" in e]
        rows.append({"config": config, "head": params["head"], "encoding": params["encoding"],
                     "number_input": params["number_input"], "k": params["holdout"], "n": len(runs),
                     **{f"{part}_{acc}": mean_std(e[f"{part}_pairs"][f"{acc}_acc"] for e in results)
                        for part in ("heldout", "seen") for acc in ("joint", "sum")},
                     "heldout_given_digit": mean_std(given) if None not in given else "–",
                     "unseen_joint": mean_std(u["joint_acc"] for u in unseen) if all(unseen) else "–",
                     "exact": f"{sum(exact)}/{len(exact)}" if exact else "–"})
    return sorted(rows, key=lambda r: (r["number_input"] != "bits", r["number_input"], r["encoding"] != "binary",
                                       r["encoding"], list(HEADS).index(r["head"]), r["k"]))


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of a rate of `successes` in `n` trials (sound at 0 and at n, unlike p ± 2 SE)."""
    if n == 0:
        return 0.0, 1.0
    p, z2 = successes / n, z * z
    centre, half = (p + z2 / (2 * n)) / (1 + z2 / n), z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(values: list[bool]) -> str:
    """"k/n (low–high %)": a rate with its 95 % Wilson interval; "–" for none."""
    if not values:
        return "–"
    low, high = wilson(sum(values), len(values))
    return f"{sum(values)}/{len(values)} ({100 * low:.0f}–{100 * high:.0f} %)"


def covers(run: dict) -> bool:
    """Whether the pairs a run trained on show the cell all four counts of ones, three included."""
    return 3 in run["exhaustive"]["coverage"]["counts"]


def draws_rows(groups: dict, least: int = 10) -> list[dict]:
    """Per configuration with `least` runs or more (draws of the held-out pairs): the rate of exact cells and of
    held-out joint accuracy ≥ 99 %, each over all draws, those that show the cell three 1s, and those that do not;
    and the held-out joint accuracy over the draws that show it, mean ± std."""
    rows = []
    for config, runs in groups.items():
        if len(runs) < least or "coverage" not in runs[0]["exhaustive"]:
            continue
        parts = {"all": runs, "covering": [r for r in runs if covers(r)], "not covering": [r for r in runs if not covers(r)]}
        exact = {k: [r["exhaustive"]["cell_exact"] for r in rs if "cell_exact" in r["exhaustive"]] for k, rs in parts.items()}
        good = {k: [r["exhaustive"]["heldout_pairs"]["joint_acc"] >= 0.99 for r in rs] for k, rs in parts.items()}
        held = [r["exhaustive"]["heldout_pairs"]["joint_acc"] for r in parts["covering"]]
        rows.append({"config": config, "draws": len(runs), "covering": len(parts["covering"]),
                     "seeds": f"{min(r['params']['seed'] for r in runs)}–{max(r['params']['seed'] for r in runs)}",
                     **{f"exact {k}": rate(v) for k, v in exact.items()}, **{f"good {k}": rate(v) for k, v in good.items()},
                     "heldout covering": mean_std(held) if held else "–",
                     "sum given digit": mean_std(r["exhaustive"]["heldout_pairs"]["sum_given_digit"] for r in runs)})
    return rows


def draws_table(groups: dict) -> list[str]:
    """The draws section of a summary (`draws_rows`), as Markdown lines; none without such configurations."""
    rows = draws_rows(groups)
    if not rows:
        return []
    return [
        "",
        "## Draws: how often it holds",
        "",
        "Each run draws its held-out pairs from its seed. *covering*: the draws whose seen pairs show the adder's cell",
        "all four counts of ones (three 1s included); a count never shown cannot be taught. *exact cell*: every one of",
        "the cell's 8 answers on the full adder's side of 0.5; *held-out ≥ 99 %*: joint accuracy over every image with the",
        "held-out pairs. Rates as k/n with their 95 % Wilson interval; *held-out, covering*: mean ± std over the covering",
        "draws; *sum given digit*: the held-out pairs' sum accuracy over the images whose digit was read right, all draws.",
        "",
        "| configuration | seeds | draws (covering) | exact cell: all | covering | not covering | held-out ≥ 99 %: all | "
        "covering | not covering | held-out, covering | sum given digit |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *[f"| {r['config']} | {r['seeds']} | {r['draws']} ({r['covering']}) | {r['exact all']} | {r['exact covering']} | "
          f"{r['exact not covering']} | {r['good all']} | {r['good covering']} | {r['good not covering']} | "
          f"{r['heldout covering']} | {r['sum given digit']} |" for r in rows],
    ]


def summary(groups: dict) -> str:
    """results/summary.md: one row per configuration, then the addition curve."""
    # Runs with a validation split (val_size > 0) evaluate on it, never on the test images.
    split = " or ".join(sorted({"validation" if r["params"].get("val_size") else "test"
                                for runs in groups.values() for r in runs})) or "test"
    lines = [
        "# Sweep results",
        "",
        "Written by `python sweep.py` from `results/*/metrics.json`; accuracies in %, mean ± std over n seeds,",
        f"on the fixed {split} pairs after the last epoch. *epoch at 99%*: the first epoch whose joint accuracy",
        "reached 99%, per seed. *invalid*: share of the 100,000 exhaustive pairs with an invalid output code.",
        f"*held-out* / *other pairs*: joint accuracy over every {split} image with the run's held-out pairs and with",
        "the others (runs that hold nothing out: the 10 pairs (d, 3d+7 mod 10), for comparison). *code*: the commit",
        "the runs ran (`+`: with uncommitted changes).",
        "",
        "| configuration | n | digit | sum | joint | train s | epoch at 99% | invalid | held-out pairs | other pairs | code |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary_rows(groups):
        lines.append(f"| {r['config']} | {r['n']} | {r['digit_acc']} | {r['sum_acc']} | {r['joint_acc']} | "
                     f"{r['train_seconds']:.0f} | {r['epoch_99']} | {r['invalid']:.3%} | {r['heldout']} | {r['seen']} | "
                     f"{r['code']} |")
    curve = curve_rows(groups)
    if curve:
        lines += [
            "",
            "## Does it learn addition?",
            "",
            "k of the 100 (digit, number) pairs never trained on (drawn per seed; every digit, number and sum still",
            f"trained on). Joint and sum accuracy over every {split} image paired with the held-out and with the seen pairs;",
            "*sum given digit*: the held-out pairs' sum accuracy over the images whose digit was read right (the",
            "arithmetic alone); *numbers 10–15*: joint accuracy with numbers the sampler never draws; *exact cells*: runs",
            "whose learned cell answers all 8 inputs on the full adder's side (– : not recorded by that code, or no cell).",
            "",
            "| head | output | number input | k | n | held-out joint | held-out sum | sum given digit | seen joint | "
            "seen sum | numbers 10–15 | exact cells |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [f"| {r['head']} | {r['encoding']} | {r['number_input']} | {r['k']} | {r['n']} | {r['heldout_joint']} | "
                  f"{r['heldout_sum']} | {r['heldout_given_digit']} | {r['seen_joint']} | {r['seen_sum']} | "
                  f"{r['unseen_joint']} | {r['exact']} |" for r in curve]
    lines += draws_table(groups)
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- robustness

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


__all__ = ["load_robustness", "robustness_table", "upgrade_metrics", "load_results", "mean_std", "first_epoch_at",
           "summary_rows", "curve_groups", "curve_rows", "wilson", "rate", "covers", "draws_rows", "draws_table", "summary"]
