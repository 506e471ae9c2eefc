"""MNIST addition's results: the published tables to measure against, runs read back from a results folder, and its
summary.md (the runs against the published table; for runs evaluated at other N, the frozen program at every N)."""
from __future__ import annotations

import statistics
from dataclasses import fields

from ..core.paths import RESULTS
from ..core.runs import config_of, load_runs
from ..core.stats import mean_std, rate
from .lengths import length_rows
from .published import PUBLISHED_RUNS, best_published, composed, dsl, versus_published
from .recipes import RECIPES
from .settings import RESTART_EPOCH, RESTART_LOSS, TASK, AdditionConfig

# a start, a prior, a curriculum, fresh starts, self-training
RECIPE_SETTINGS = ("cell_init", "balance", "lowest_first", "adjacent_first", "restarts", "relabel_epochs")
# the training every named recipe shares; a run that trained otherwise (the papers' training) names what differed
TRAINING = {f.name: f.default for f in fields(AdditionConfig)
            if f.name in ("schedule", "lr", "batch_size", "weight_decay", "augment")}


def beyond_shared(params: dict) -> str:
    """What a run did beyond the shared training, as the summary names it: training settings other than `TRAINING`'s
    ("schedule constant, lr 0.001, batch_size 128, weight_decay 0.0, augment False"), then "cell_init 1.0",
    "lowest_first 6", "adjacent_first 6, restarts 2", "restarts 20 after epoch 1" (read after an epoch other than
    RESTART_EPOCH, which runs from before that setting read), "restarts 2 after epoch 8 above 0.25" (a threshold other
    than RESTART_LOSS), or "" (nothing)."""
    def named(name: str) -> str:
        if name != "restarts":
            return f"{name} {params[name]}"
        epoch, loss = params.get("restart_epoch", RESTART_EPOCH), params.get("restart_loss", RESTART_LOSS)
        return (f"restarts {params[name]}" + (f" after epoch {epoch}" if epoch != RESTART_EPOCH else "")
                + (f" above {loss}" if loss != RESTART_LOSS else ""))
    trained = [f"{name} {params[name]}" for name, shared in TRAINING.items() if params.get(name, shared) != shared]
    return ", ".join([*trained, *(named(name) for name in RECIPE_SETTINGS if params.get(name))])


def load_addition_results(results) -> dict[str, list[dict]]:
    """Every MNIST-addition run's metrics in `results` (folders `<recipe>-seed<k>`), grouped by recipe and what it did
    beyond the shared training (a recipe whose curriculum or restarts changed keeps its earlier runs in a group of
    their own)."""
    groups = {}
    for name, metrics in load_runs(results, TASK):
        extra = beyond_shared(metrics["params"])
        groups.setdefault(f"{config_of(name)} ({extra})" if extra else config_of(name), []).append(metrics)
    return dict(sorted(groups.items(), key=lambda item: (item[1][0]["params"]["digits"], item[0])))


def addition_rows(groups: dict) -> list[dict]:
    """Per configuration: N, method, perception, recipe, seeds, sum and digit accuracy (mean ± std, %), training
    seconds."""
    rows = []
    for config, runs in groups.items():
        p, finals = runs[0]["params"], [r["final"] for r in runs]
        digit = [f.get("matched_digit_acc" if p["method"] == "learned" else "digit_acc") for f in finals]
        rows.append({"config": config, "digits": p["digits"], "method": p["method"], "perception": p["perception"],
                     "recipe": beyond_shared(p), "n": len(runs), "seeds": sorted(r["params"]["seed"] for r in runs),
                     "sum": mean_std(f["sum_acc"] for f in finals), "sum_values": [f["sum_acc"] for f in finals],
                     "sum_mean": 100 * statistics.mean(f["sum_acc"] for f in finals),
                     "digit": mean_std(digit) if None not in digit else "–",
                     "seconds": statistics.mean(r["train_seconds"] for r in runs),
                     "epochs": p["epochs"], "eval": runs[0]["data"]["eval_set"]})
    return rows


FOUND = 0.9  # a kept attempt "found the digits" when its perception reads at least this share of them (matched)


def restart_rows(groups: dict) -> list[dict]:
    """Per configuration that restarts: its attempts (each run's abandoned ones, then the kept one), how many found the
    digits (an abandoned attempt did not, by its loss; a kept one did when its digit accuracy, matched for the learned
    cell, is at least FOUND), that per-attempt rate with its 95 % Wilson interval, and the training seconds per run
    with every attempt counted, beside the kept attempt's alone."""
    rows = []
    for config, runs in groups.items():
        if not runs[0]["params"].get("restarts"):
            continue
        found = []
        for run in runs:
            final = run["final"]["matched_digit_acc" if run["params"]["method"] == "learned" else "digit_acc"]
            found += [False] * len(run.get("restarts", [])) + [final >= FOUND]
        kept = [sum(h["seconds"] for h in run["history"]) for run in runs if "history" in run]
        rows.append({"config": config, "runs": len(runs), "attempts": len(found), "found": sum(found),
                     "rate": rate(found), "seconds": statistics.mean(r["train_seconds"] for r in runs),
                     "kept_seconds": statistics.mean(kept) if kept else None})
    return rows


def seed_list(seeds: list[int]) -> str:
    """[1, 2, 3, 5] -> "1–3, 5" (the seeds behind a row)."""
    runs, out = [], []
    for seed in seeds:
        if runs and seed == runs[-1][-1] + 1:
            runs[-1].append(seed)
        else:
            runs.append([seed])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


def addition_summary(groups: dict) -> str:
    """results/mnist_addition/summary.md: our runs against the best published result at each N."""
    rows = addition_rows(groups)
    split = " or ".join(sorted({r["eval"] for r in rows})) or "test"
    lines = [
        "# MNIST addition: sum accuracy against the published table",
        "",
        "Written by `python sweep.py` from `*/metrics.json`. Exact-match accuracy (%) of the predicted sum over the",
        f"{split} pairs (⌊images / 2N⌋ of them), mean ± std over seeds; *digit*: the perception's accuracy on those",
        "pairs' images, read with their labels (never trained on; for the learned cell after the best matching of its",
        "classes to the digits); *recipe*: what a run did beyond the shared training (training settings other",
        "than `TRAINING`'s, a start, a prior, a curriculum, restarts, self-training); *train s*:",
        "seconds of training per run on this machine (evaluation not counted). *published*: the best published mean",
        "(`PUBLISHED`, sources in docs/mnist_addition.md); *vs published*: Welch's t-test of the runs against it, its std",
        f"taken as over {PUBLISHED_RUNS} runs; *0.99^(2N)*: a 99 % digit classifier composed exactly.",
        "",
        "| N | method | perception | recipe | seeds | epochs | sum | digit | train s | best published | vs published | 0.99^(2N) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *[f"| {r['digits']} | {r['method']} | {r['perception']} | {r['recipe'] or '–'} | {seed_list(r['seeds'])} | "
          f"{r['epochs']} | {r['sum']} | {r['digit']} | "
          f"{r['seconds']:.0f} | {best_published(r['digits'])} | {versus_published(r['sum_values'], r['digits'])} | "
          f"{100 * composed(r['digits']):.1f} |" for r in rows],
    ]
    if restarts := restart_rows(groups):
        lines += [
            "",
            "## Restarts: every attempt counted",
            "",
            "A run that restarts keeps the first attempt whose training loss shows it found the digits, else its last. *attempts*: all of them (abandoned",
            f"ones, then the kept one); *found the digits*: abandoned attempts did not (by their loss), a kept one did",
            f"when its perception reads at least {100 * FOUND:.0f} % of the digits (matched for `learned`), with the",
            "per-attempt rate's 95 % Wilson interval; *train s*: per run, every attempt counted, and the kept attempt's",
            "alone.",
            "",
            "| configuration | runs | attempts | found the digits | train s (all attempts) | train s (kept attempt) |",
            "|---|---|---|---|---|---|",
            *[f"| {r['config']} | {r['runs']} | {r['attempts']} | {r['rate']} | {r['seconds']:.0f} | "
              f"{'–' if r['kept_seconds'] is None else round(r['kept_seconds'])} |" for r in restarts],
        ]
    return "\n".join(lines) + "\n"


def percent(values) -> str:
    """Fractions as "mean ± std" of their percentages (as the committed summary rounds them; `mean_std` rounds the
    fractions' mean times 100, which can differ in the last digit)."""
    values = [100 * v for v in values]
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.2f}"


def exact_at_n(results) -> dict[int, str]:
    """N -> the named `exact`, `mid` recipe's sum accuracy "mean ± std" over its runs in the results folder."""
    rows = {r["config"]: r for r in addition_rows(load_addition_results(results))}
    out = {}
    for name, params in RECIPES.items():
        key = f"{name} ({beyond_shared(params)})" if beyond_shared(params) else name
        if params["method"] == "exact" and params["perception"] == "mid" and key in rows:
            out[params["digits"]] = f"{rows[key]['sum']} ({len(rows[key]['seeds'])} seeds)"
    return out


def lengths_summary(metrics: list[dict], exact: dict[int, str], command: str) -> str:
    """summary.md of runs evaluated frozen at other N (each metrics.json's `lengths`): per N against Deep Symbolic
    Learning (which learns the table too) and, apart, the best system given the program, and `exact` trained at that
    N (`exact_at_n`); the same over the runs that learned the exact table where only some did; then each run.
    `command`: what wrote the runs."""
    runs = [m["lengths"] for m in metrics]
    rows, trained, first = length_rows(runs), runs[0]["trained_digits"], metrics[0]["params"]
    learned = [r for r, m in zip(runs, metrics) if m["cell"]["right"] == m["cell"]["entries"]]
    attempts = [1 + len(m["restarts"]) for m in metrics]
    subset = [] if not 1 < len(learned) < len(runs) else [
        "", f"Only the {len(learned)} runs that learned the exact table (a subset picked after the fact, by the table "
        "each run learned):", "",
        "| N | re-paired (sums) | 95 % interval | best published | vs published |", "|---|---|---|---|---|",
        *[f"| {r['digits']} | **{percent(r['repaired'])}** ({r['repaired_sums']}) | {100 * r['interval'][0]:.2f}–"
          f"{100 * r['interval'][1]:.2f} | {best_published(r['digits'])} | "
          f"{versus_published(r['repaired'], r['digits'])} |" for r in length_rows(learned)]]
    relabelled = [m for m in metrics if m.get("relabel", {}).get("history")]
    relabel = (f"; then, in {len(relabelled)} of the {len(metrics)} runs, {len(relabelled[0]['relabel']['history'])}"
               f" epochs of a fresh `{relabelled[0]['relabel']['perception']}` perception on the training images' digits"
               " as its own table reads them from the sums (`relabel_epochs`)" if relabelled else "")
    if members := [m["ensemble"]["members"] for m in metrics if m.get("ensemble", {}).get("trained")]:
        relabel += (f"; in {len(members)} runs {members[0] - 1} more such perception(s) on the first one's reading, "
                    f"all {members[0]} read as one (`members`, their mean probabilities)")
    lines = [
        f"# MNIST addition: learned at N = {trained}, frozen, evaluated at every N",
        "",
        f"Written by `{command}` from `*/metrics.json`. Every model trained at N = {trained} with the `learned` recipe "
        f"(perception and addition table from the sums alone){relabel}, then frozen: no fine-tuning, curriculum or "
        "restart at any other N; the digit labels are read only to score. Sum accuracy (%), mean ± std over the runs: "
        "*protocol*, the test pairs a run at that N evaluates on (⌊10,000 / 2N⌋ of them); *re-paired*, the same model "
        "on re-pairings of the 10,000 test images (each image at most once per re-pairing, at least 2,000 sums per N), "
        "with the 95 % t-interval of the mean over the runs. *DSL*: Deep Symbolic Learning, which learns the table from "
        f"2-digit sums too (`DSL`). *Given the program*: the best published system that is given the addition program "
        f"(`PUBLISHED`); *vs that*: Welch's t-test of the runs' re-paired values against its mean ± std, taken as over "
        f"{PUBLISHED_RUNS} runs. *Exact at N*: the exact program trained at that N (results/mnist_addition/summary.md). "
        "*Composed*: the runs' matched digit accuracy to the power 2N (every digit right); *0.996^(2N)*: a 99.6 % digit "
        f"classifier's. Seeds {seed_list(sorted(m['params']['seed'] for m in metrics))}"
        f"{'' if first['val_size'] else ', on the one MNIST test set every study of this project was measured on'}.",
        "",
        "| N | protocol (pairs) | re-paired (sums) | 95 % interval | DSL | given the program | vs that | exact at N | "
        "composed | 0.996^(2N) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *[f"| {r['digits']} | {percent(r['protocol'])} ({r['protocol_pairs']}) | **{percent(r['repaired'])}** "
          f"({r['repaired_sums']}) | {100 * r['interval'][0]:.2f}–{100 * r['interval'][1]:.2f} | {dsl(r['digits'])} | "
          f"{best_published(r['digits'])} | {versus_published(r['repaired'], r['digits'])} | {exact.get(r['digits'], '–')} | "
          f"{100 * r['composed']:.2f} | {100 * 0.996 ** (2 * r['digits']):.2f} |" for r in rows],
        "",
        f"{len(learned)} of {len(metrics)} runs learned the exact table (all 200 entries addition's, read in digits "
        f"after the best matching of classes to digits); attempts per run (1 + restarts): {', '.join(map(str, attempts))}.",
        *subset,
        "",
        "| seed | attempts | train s (every attempt and perception) | table entries right | matched digit | "
        + " | ".join(f"N = {n}" for n in runs[0]["lengths"]) + " |",
        "|---|---|---|---|---|" + "---|" * len(runs[0]["lengths"]),
        *[f"| {r['seed']} | {1 + len(m['restarts'])} | {m['train_seconds']:.0f} | {m['cell']['right']} / "
          f"{m['cell']['entries']} | {100 * r['matched_digit_acc']:.2f} | "
          + " | ".join(f"{100 * v['repaired_sum_acc']:.2f}" for v in r["lengths"].values()) + " |"
          for r, m in zip(runs, metrics)],
    ]
    return "\n".join(lines) + "\n"


def frozen_rows(results) -> list[dict]:
    """`length_rows` of the runs of a results folder that were evaluated at other N (their `lengths`)."""
    return length_rows([m["lengths"] for m in sum(load_addition_results(results).values(), []) if m.get("lengths")])


def summary(results, command: str) -> str | None:
    """A results folder's summary.md: its runs evaluated at other N (`lengths_summary`, beside the exact program's
    runs in results/mnist_addition), or against the published table (`addition_summary`); None without runs."""
    groups = load_addition_results(results)
    if not groups:
        return None
    runs = [m for group in groups.values() for m in group]
    if all(m.get("lengths") for m in runs):
        return lengths_summary(runs, exact_at_n(RESULTS / "mnist_addition"), command)
    return addition_summary(groups)


__all__ = ["RECIPE_SETTINGS", "TRAINING", "beyond_shared", "load_addition_results",
           "addition_rows", "FOUND", "restart_rows", "seed_list", "addition_summary", "percent", "exact_at_n", "lengths_summary", "frozen_rows", "summary"]
