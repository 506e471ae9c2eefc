"""Length generalization: a model trained at one N, frozen, adds numbers of other lengths.

Each evaluation image's class is read once (the perception's argmax, in eval mode, where a class does not depend on
the batch), and a sum of any length is the model's own program applied to those classes (`AdditionModel.add`:
exact addition, or the learned table). Predicting reads no label; the labels only score the predictions. Two test
sets per N: the protocol's (`protocol_pairs`: the pairs a run at that N with the same seed is evaluated on,
⌊10,000 / 2N⌋ of them: 10 at N = 500) and `repairings` of the same images, each image used at most once per
re-pairing, enough re-pairings for at least `min_sums` sums, deterministic per seed.
"""
from __future__ import annotations

import math
import statistics

import torch

from ..core.checkpoints import read_state
from ..core.stats import wilson
from .data import AdditionData, addition_pairs, protocol_pairs, sum_digits
from .model import AdditionModel
from .recipes import ADDITION_SWEEPS
from .results import PUBLISHED_RUNS, addition_rows, best_published, load_addition_results, recipe, versus_published
from .evaluation import read_digits
from .training import ADDITION_FORMAT

LENGTHS = (2, 4, 15, 100, 200, 500)  # the trained N first: its protocol number must be the run's own
MIN_SUMS = 2000
REPAIRING_SEED = 1_000_003  # the re-pairings' generator is seeded with seed + this, apart from the protocol's


def load_addition_model(path) -> tuple[AdditionModel, dict]:
    """A trained MNIST-addition model from its model.pt (read safely), in eval mode on the CPU, and its settings. Its
    perception is the one model.pt names (files from before it named one: the settings' `perception`, or after
    relabelled epochs `relabel_perception`)."""
    state = read_state(path, ADDITION_FORMAT)
    params = state["params"]
    perception = state.get("perception")
    if perception is None:  # a model.pt from before it named its perception
        perception = params["relabel_perception"] if params.get("relabel_epochs") else params["perception"]
    model = AdditionModel(params["digits"], params["method"], perception, cell_init=params["cell_init"])
    model.load_state_dict(state["model"])
    return model.eval(), params


def repairings(n_images: int, digits: int, seed: int, min_sums: int = MIN_SUMS) -> torch.Tensor:
    """(R, P, 2, N) image indices: R independent shuffles of the `n_images` images, each cut into P = ⌊n / 2N⌋ pairs
    of N-digit numbers as the protocol cuts them (each image at most once per re-pairing), R just enough for R * P >=
    `min_sums`. The same for the same seed."""
    per = n_images // (2 * digits)
    if per == 0:
        raise ValueError(f"{n_images} images make no pair of {digits}-digit numbers")
    generator = torch.Generator().manual_seed(seed + REPAIRING_SEED)
    return torch.stack([addition_pairs(n_images, digits, generator) for _ in range(math.ceil(min_sums / per))])


@torch.no_grad()
def image_classes(model: AdditionModel, images: torch.Tensor, batch: int = 2048) -> torch.Tensor:
    """The perception's class for each image (M,): what `AdditionModel.predict` reads, one image at a time."""
    model.eval()
    return torch.cat([model.network(images[i:i + batch].contiguous(memory_format=model.memory_format)).argmax(-1)
                      for i in range(0, len(images), batch)]).cpu()


def predicted_sums(model: AdditionModel, classes: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """The model's sums (..., N + 1) for `pairs` (..., 2, N) of images whose classes are `classes`: no label read."""
    flat = pairs.reshape(-1, *pairs.shape[-2:])
    return model.add(classes[flat]).view(*pairs.shape[:-2], -1)


def sums_right(model: AdditionModel, classes: torch.Tensor, labels: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Whether each of `pairs`' predicted sums is the true one, every digit (a bool per pair)."""
    return (predicted_sums(model, classes, pairs) == sum_digits(labels[pairs])).all(-1)


def evaluate_lengths(model: AdditionModel, data: AdditionData, seed: int, lengths=LENGTHS,
                     min_sums: int = MIN_SUMS, log=print) -> dict:
    """The frozen `model` at every N of `lengths`, on `data`'s evaluation images (`data` prepared as the run was:
    its seed and split): per N, the protocol's sum accuracy and pairs, the re-pairings' sum accuracy over all their
    sums with its 95 % Wilson interval, and the matched digit accuracy composed over 2N digits. Also the digits read
    (`read_digits`, labels read only here, after training)."""
    if model.method == "neural":
        raise ValueError("the neural baseline has no program to apply at another N")
    classes, labels = image_classes(model, data.eval_x), data.eval_digits.cpu()
    digits = read_digits(classes, labels)
    out = {"trained_digits": model.digits, "seed": seed, "eval_set": data.eval_name, "images": len(labels),
           "digit_acc": digits["digit_acc"], "matched_digit_acc": digits["matched_digit_acc"], "lengths": {}}
    for n in lengths:
        protocol = sums_right(model, classes, labels, protocol_pairs(len(data.train_x), len(labels), n, seed)[1])
        repaired = sums_right(model, classes, labels, repairings(len(labels), n, seed, min_sums))
        right, total = int(repaired.sum()), repaired.numel()
        out["lengths"][str(n)] = {"protocol_sum_acc": protocol.float().mean().item(), "protocol_pairs": len(protocol),
                                  "repaired_sum_acc": right / total, "repaired_sums": total,
                                  "repairings": repaired.shape[0], "repaired_interval": wilson(right, total),
                                  "composed": digits["matched_digit_acc"] ** (2 * n)}
        log(f"N = {n}: protocol {protocol.float().mean():.2%} of {len(protocol)}; re-paired {right / total:.2%} of "
            f"{total}")
    return out


def length_rows(runs: list[dict]) -> list[dict]:
    """Per N over the runs' lengths.json: the protocol's and the re-pairings' sum accuracy (fractions, one per run),
    the 95 % t-interval of the re-paired mean over the runs, and the matched digit accuracy composed."""
    rows = []
    for n in runs[0]["lengths"]:
        per_run = [r["lengths"][n] for r in runs]
        protocol, repaired = [p["protocol_sum_acc"] for p in per_run], [p["repaired_sum_acc"] for p in per_run]
        half = (t_quantile(len(runs) - 1) * statistics.stdev(repaired) / math.sqrt(len(runs))) if len(runs) > 1 else 0.0
        rows.append({"digits": int(n), "protocol": protocol, "repaired": repaired,
                     "protocol_pairs": per_run[0]["protocol_pairs"], "repaired_sums": per_run[0]["repaired_sums"],
                     "interval": (statistics.mean(repaired) - half, statistics.mean(repaired) + half),
                     "composed": statistics.mean(p["composed"] for p in per_run)})
    return rows


def t_quantile(df: int) -> float:
    """Student's t at 0.975 with `df` degrees of freedom (a 95 % two-sided interval)."""
    from scipy.stats import t
    return float(t.ppf(0.975, df))


def percent(values) -> str:
    """Fractions as "mean ± std" of their percentages (as the committed summary rounds them; `mean_std` rounds the
    fractions' mean times 100, which can differ in the last digit)."""
    values = [100 * v for v in values]
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.2f}"


def exact_at_n(results) -> dict[int, str]:
    """N -> the named `exact`, `mid` recipe's sum accuracy "mean ± std" over its runs in the results folder."""
    rows = {r["config"]: r for r in addition_rows(load_addition_results(results))}
    out = {}
    for name, params in ADDITION_SWEEPS.items():
        key = f"{name} ({recipe(params)})" if recipe(params) else name
        if params["method"] == "exact" and params["perception"] == "mid" and key in rows:
            out[params["digits"]] = f"{rows[key]['sum']} ({len(rows[key]['seeds'])} seeds)"
    return out


def lengths_summary(runs: list[dict], metrics: list[dict], exact: dict[int, str],
                    study: str | None = "addition-lengths",
                    command: str = "python lengths.py") -> str:
    """<folder>/summary.md: the frozen models at every N against the best published result and `exact` trained at
    that N (`exact`: N -> "mean ± std", from results/mnist_addition), the same over the runs that learned the exact
    table where only some did, then each run: its table and training. `study`: the sweep.py study that trained the
    runs (None: a folder of no study); `command`: what wrote the lengths.json files. A run whose metrics carry an
    `ensemble` (probes/ensemble_lengths.py) is its kept model and further members read together."""
    rows, trained = length_rows(runs), runs[0]["trained_digits"]
    learned = [r for r, m in zip(runs, metrics) if m["cell"]["right"] == m["cell"]["entries"]]
    exact_tables, attempts = len(learned), [1 + len(m["restarts"]) for m in metrics]
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
    ensembles = [m["ensemble"]["trained"] for m in metrics if m.get("ensemble", {}).get("trained")]
    if ensembles:
        more = len(ensembles[0])
        relabel += (f"; then, in {len(ensembles)} of the {len(metrics)} runs, {more} more fresh "
                    f"`{ensembles[0][0]['perception']}` perception{'s' if more > 1 else ''} trained the same way on the"
                    f" kept model's own reading of the sums, on {'their' if more > 1 else 'its'} own seed"
                    f"{'s' if more > 1 else ''}: an ensemble of {more + 1} (mean probabilities)")
    lines = [
        f"# MNIST addition: learned at N = {trained}, frozen, evaluated at every N",
        "",
        f"Written by `{command}` from `*/lengths.json` (each run's `model.pt`, kept by `sweep.py"
        + (" --study" if study else ""),
        f"{study + ' ' if study else ''}--keep-models`). Every model trained at N = {trained} with the `learned` recipe (perception and",
        f"addition table from the sums alone){relabel}, then frozen: no fine-tuning, curriculum or restart at any other N; the",
        "digit labels are read only to score. Sum accuracy (%), mean ± std over the runs: *protocol*, the test pairs a run",
        "at that N evaluates on (⌊10,000 / 2N⌋ of them); *re-paired*, the same model on re-pairings of the 10,000 test",
        "images (each image at most once per re-pairing, at least 2,000 sums per N), with the 95 % t-interval of the mean",
        f"over the runs. *Best published*: systems given the program (`PUBLISHED`); *vs published*: Welch's t-test of the runs'",
        f"re-paired values against its mean ± std, taken as over {PUBLISHED_RUNS} runs. *Exact at N*: the exact program",
        "trained at that N (results/mnist_addition/summary.md). *Composed*: the runs' matched digit accuracy to the power",
        "2N (every digit right); *0.996^(2N)*: a 99.6 % digit classifier's.",
        "",
        "| N | protocol (pairs) | re-paired (sums) | 95 % interval | best published | vs published | exact at N | composed | 0.996^(2N) |",
        "|---|---|---|---|---|---|---|---|---|",
        *[f"| {r['digits']} | {percent(r['protocol'])} ({r['protocol_pairs']}) | **{percent(r['repaired'])}** "
          f"({r['repaired_sums']}) | {100 * r['interval'][0]:.2f}–{100 * r['interval'][1]:.2f} | "
          f"{best_published(r['digits'])} | {versus_published(r['repaired'], r['digits'])} | {exact.get(r['digits'], '–')} | "
          f"{100 * r['composed']:.2f} | {100 * 0.996 ** (2 * r['digits']):.2f} |" for r in rows],
        "",
        f"{exact_tables} of {len(metrics)} runs learned the exact table (all 200 entries addition's, read in digits after",
        f"the best matching of classes to digits); attempts per run (1 + restarts): {', '.join(map(str, attempts))}.",
        *subset,
        "",
        "| seed | attempts | train s (all attempts" + (", relabelled epochs" if relabelled else "")
        + (", further members" if ensembles else "") + ") | table entries right | matched digit | "
        + " | ".join(f"N = {n}" for n in runs[0]["lengths"]) + " |",
        "|---|---|---|---|---|" + "---|" * len(runs[0]["lengths"]),
        *[f"| {r['seed']} | {1 + len(m['restarts'])} | "
          f"{m['train_seconds'] + m.get('ensemble', {}).get('seconds', 0):.0f} | {m['cell']['right']} / "
          f"{m['cell']['entries']} | {100 * r['matched_digit_acc']:.2f} | "
          + " | ".join(f"{100 * v['repaired_sum_acc']:.2f}" for v in r["lengths"].values()) + " |"
          for r, m in zip(runs, metrics)],
    ]
    return "\n".join(lines) + "\n"


__all__ = ["LENGTHS", "MIN_SUMS", "REPAIRING_SEED", "load_addition_model", "repairings", "image_classes",
           "predicted_sums", "sums_right", "evaluate_lengths", "length_rows", "t_quantile", "exact_at_n",
           "percent", "lengths_summary"]
