"""Benchmark: the original's training pipeline against this project's, alternating, in one run.

    python benchmark.py                      # reference vs. the notebook's defaults, once each
    python benchmark.py default fast strong --repeats 3
    python benchmark.py default strong --repeats 3 --device cuda

The reference follows the original: a DataLoader over torchvision's MNIST with per-sample ToTensor +
Normalize, batch 128, shuffled; the classic 320-feature CNN; BCE; Adam at lr 1e-3; 10 epochs. The
project's configurations are the primary notebook's defaults with the overrides in CONFIGS. Both are
timed on training only (evaluation after each epoch is not counted) and evaluated on the same fixed
test pairs. On an accelerator the clock is read after synchronizing. Results, with the device's name,
each run's precision and the code's commit, go to results/benchmark/benchmark.json (--out to put them elsewhere),
which the README's table is made from.
"""
import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch

from helpers.core.device import device_name, resolve_device, stopwatch
from helpers.core.mnist import MNIST_MEAN, MNIST_STD, load_mnist, normalize, prepare_data
from helpers.core.paths import RESULTS
from helpers.core.provenance import versions
from helpers.core.stats import mean_std
from helpers.digit_and_sum.configs import CONFIGS
from helpers.digit_and_sum.evaluation import ACCURACIES, eval_numbers, evaluate
from helpers.digit_and_sum.reference import reference_pipeline
from helpers.digit_and_sum.runs import Config, fit


def reference(seed: int, eval_set, epochs: int = 10, device="cpu", log=print) -> list[dict]:
    """Train the original's pipeline for `epochs`; returns per-epoch history like fit's."""
    device = torch.device(device)
    model, train = reference_pipeline(seed, device)
    eval_x = normalize(eval_set[0], MNIST_MEAN, MNIST_STD)
    numbers = eval_numbers(len(eval_x))
    history = []
    for epoch in range(1, epochs + 1):
        elapsed = stopwatch(device)
        train()
        seconds = elapsed()
        result = evaluate(model, eval_x, eval_set[1], numbers)
        history.append({"epoch": epoch, "seconds": seconds, **{k: result[k] for k in ACCURACIES}})
        log(f"  reference epoch {epoch}: joint {result['joint_acc']:.2%} ({seconds:.1f} s)")
    return history


def project(overrides: dict, seed: int, data, device="auto", log=print) -> tuple[list[dict], str, str]:
    """Train a project configuration; returns its per-epoch history, the precision it ran in and why."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(**overrides, seed=seed, device=str(device), output_dir=tmp)
        metrics = fit(config, data, log=lambda line: None)["metrics"]
    for h in metrics["history"]:
        log(f"  epoch {h['epoch']}: joint {h['joint_acc']:.2%} ({h['seconds']:.1f} s)")
    return metrics["history"], metrics["params"]["precision"], metrics["versions"]["precision"]


def summarize(history: list[dict], n_train: int = 60_000, target: float = 0.99) -> dict:
    """Training seconds, samples/s, seconds until joint accuracy first reached `target`, final accuracies."""
    seconds = sum(h["seconds"] for h in history)
    elapsed, reached = 0.0, None
    for h in history:
        elapsed += h["seconds"]
        if reached is None and h["joint_acc"] >= target:
            reached = elapsed
    return {"seconds": seconds, "samples_per_s": n_train * len(history) / seconds, "seconds_to_99": reached,
            **{k: history[-1][k] for k in ACCURACIES}}


def run(names: list[str], rounds: int, device: torch.device, precision: str | None = None, log=print) -> dict:
    """`rounds` alternating rounds (seeds 1, 2, ...) of the reference and the configurations `names` of CONFIGS (with
    `precision`, if given, in place of each one's own); every run's times, accuracies and precision with its reason."""
    data, test_set = prepare_data(), load_mnist()["test"]
    configs = {name: {**CONFIGS[name], **({"precision": precision} if precision else {})} for name in names}
    runs = []
    for seed in range(1, rounds + 1):
        log(f"round {seed}: reference")
        runs.append({"name": "reference", "seed": seed, "precision": "fp32", "precision_reason": "the original's",
                     **summarize(reference(seed, test_set, device=device, log=log))})
        for name, overrides in configs.items():
            log(f"round {seed}: {name} {overrides}")
            history, used, why = project(overrides, seed, data, device, log)
            runs.append({"name": name, "seed": seed, "precision": used, "precision_reason": why, **summarize(history)})
    mean = {n: {k: statistics.mean(r[k] for r in runs if r["name"] == n) for k in ("seconds", "samples_per_s",
                                                                                  *ACCURACIES)}
            for n in ["reference", *names]}
    return {"configs": configs, "runs": runs, "mean": mean, "defaults": Config().to_dict(),
            "versions": versions(device), "device": str(device), "threads": torch.get_num_threads(),
            "command": "python benchmark.py " + " ".join(sys.argv[1:])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="*", default=["default"], choices=sorted(CONFIGS))
    parser.add_argument("--repeats", type=int, default=1, help="alternating rounds (seed 1, 2, ...)")
    parser.add_argument("--out", type=Path, default=RESULTS / "benchmark",
                        help="folder for benchmark.json and summary.md (default: results/benchmark in the repository)")
    parser.add_argument("--device", default="auto", help="'auto' (the accelerator if any, else the CPU), 'cpu', 'cuda', ...")
    parser.add_argument("--precision", help="every configuration in this precision instead of its own (e.g. fp32: "
                                            "what a CPU without native bf16 runs)")
    args = parser.parse_args()
    try:
        device = resolve_device(args.device)
    except ValueError as error:
        parser.error(str(error))
    print(f"device {device} ({device_name(device)}), torch {torch.__version__}, {torch.get_num_threads()} threads")
    result = run(args.configs, args.repeats, device, args.precision, log=lambda line: print(line, flush=True))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps(result, indent=1))
    text = benchmark_table(result)
    (args.out / "summary.md").write_text(text)
    print(f"\n{text}\nwrote {args.out / 'benchmark.json'} and summary.md")


def benchmark_table(result: dict) -> str:
    """The benchmark's table: per pipeline, mean ± std over the rounds, each round's time over its reference's, and
    the mean time over the reference's and the default's mean; then why each ran in its precision."""
    runs = result["runs"]
    names = list(dict.fromkeys(r["name"] for r in runs))
    mean_seconds = {n: statistics.mean(r["seconds"] for r in runs if r["name"] == n) for n in names}
    lines = ["# Benchmark: the original's pipeline against this project's configurations", "",
             f"Written by `{result['command']}` ({result['versions']['device']}, {result['device']}, "
             f"{result['threads']} threads, torch {result['versions']['torch']}); training seconds only; accuracies on "
             "the fixed test pairs; mean ± std over the rounds (seeds 1, 2, ...); *per round*: each round's seconds over "
             "the same round's reference, lowest to highest; *mean*: the mean seconds over the reference's mean (and "
             "over the default's).", "",
             "| pipeline | precision | rounds | train s | first ≥ 99.0 % joint at (s) | digit | sum | joint | "
             "time / reference, per round | mean | time / default |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        mine = [r for r in runs if r["name"] == name]
        ratios = sorted(r["seconds"] / next(x["seconds"] for x in runs if x["name"] == "reference" and x["seed"] == r["seed"])
                        for r in mine)
        seconds = [r["seconds"] for r in mine]
        std = statistics.stdev(seconds) if len(seconds) > 1 else 0.0
        reached = [f"{r['seconds_to_99']:.0f}" if r["seconds_to_99"] else "never" for r in mine]
        to_default = f"{mean_seconds[name] / mean_seconds['default']:.2f}" if "default" in mean_seconds else "–"
        lines.append(f"| {name} | {mine[0]['precision']} | {len(mine)} | {statistics.mean(seconds):.1f} ± {std:.1f} | "
                     f"{', '.join(reached)} | {mean_std(r['digit_acc'] for r in mine)} | "
                     f"{mean_std(r['sum_acc'] for r in mine)} | {mean_std(r['joint_acc'] for r in mine)} | "
                     f"{ratios[0]:.2f}–{ratios[-1]:.2f} | {mean_seconds[name] / mean_seconds['reference']:.2f} | {to_default} |")
    lines += ["", "Precision, and why:", ""]
    lines += [f"* {name}: {next(r for r in runs if r['name'] == name).get('precision_reason', '–')}" for name in names]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
