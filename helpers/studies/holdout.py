"""The held-out pairs study of the primary task (docs/addition.md): the generalization curve (k of the 100 pairs
never trained on, per head), the fresh draws (how often it holds), and `results/summary.md`, which shows them beside
each configuration's row."""
from __future__ import annotations

import re

from ..core.stats import mean_std, rate
from ..digit_and_sum.recipes import CURVE_HEADS, curve_name
from ..digit_and_sum.heads import HEADS
from ..digit_and_sum.results import summary_rows


def curve_groups(groups: dict) -> dict[str, list[dict]]:
    """The runs of the generalization curve: the `<name>-k<k>` configurations (k pairs held out) and the k = 0 points
    that have a name of their own (`curve_name`: default, adds)."""
    zero = {curve_name(head, 0) for head in CURVE_HEADS}
    return {config: runs for config, runs in groups.items() if re.search(r"-k\d+$", config) or config in zero}


def curve_rows(groups: dict) -> list[dict]:
    """The generalization curve: `curve_groups`' configurations, per head, output encoding and number input code
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


__all__ = ["curve_groups", "curve_rows", "covers", "draws_rows", "draws_table", "summary"]
