"""The checks a maintainer runs once on a CUDA GPU, in one command: what only a GPU can show.

    python tools/gpu_check.py                  # the first CUDA device
    python tools/gpu_check.py --device cuda:1 --rounds 2

1. No host sync in training: a few hundred steps of the robust recipe (augment="robust", centre_input, held-out
   pairs, the symadder head) under `torch.cuda.set_sync_debug_mode("error")`, log lines off: any operation that
   makes the host wait for the GPU raises.
2. The benchmark on the GPU: the original's pipeline and the benchmarked recipes (helpers.digit_and_sum.benchmark),
   timed.
3. The primary notebook through papermill with `-p device cuda`.
4. The final MNIST-addition recipe, one seed, with its lengths.

It writes results/gpu/gpu.json and results/gpu/summary.md, with the GPU's name. On a machine without a CUDA GPU it
says so in one line and exits 0. Every check also runs on the CPU (tests/test_benchmark.py runs them small there, the
sync mode off), so a first GPU run can fail only on what a GPU shows.
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

from helpers.core.device import resolve_device
from helpers.core.mnist import prepare_data
from helpers.core.paths import NOTEBOOK, RESULTS, ROOT
from helpers.core.provenance import versions
from helpers.digit_and_sum.benchmark import BENCHMARKED, benchmark_table, run_benchmark
from helpers.digit_and_sum.settings import Config
from helpers.digit_and_sum.train import make_training, train_epoch
from helpers.mnist_addition.data import prepare_addition
from helpers.mnist_addition.recipes import RECIPES as ADDITION_RECIPES
from helpers.mnist_addition.settings import AdditionConfig
from helpers.mnist_addition.train import fit as fit_addition

ADDITION_RECIPE = "add-learned-mid-n2-long"  # the MNIST-addition recipe the GPU check trains


def sync_check(device: torch.device, steps: int = 300) -> dict:
    """`steps` training steps of the robust recipe with every host sync an error (on CUDA); returns what ran."""
    data = prepare_data(train_size=128 * steps).to(device)
    config = Config(epochs=1, augment="robust", centre_input=True, holdout=30, head="symadder",
                    device=str(device), log_interval=10**9).resolve()[0]
    model, optimizer, scheduler = make_training(config, len(data.train_x), device=device)
    if device.type == "cuda":
        torch.cuda.set_sync_debug_mode("error")
    try:
        losses = train_epoch(model, data, optimizer, scheduler, 1, config, log=lambda line: None)
    finally:
        if device.type == "cuda":
            torch.cuda.set_sync_debug_mode("default")
    return {"steps": len(losses), "configuration": "augment robust, centre_input, holdout 30, head symadder",
            "precision": config.precision, "syncs": 0, "mean_loss": torch.stack(losses).mean().item()}


def notebook_check(device: torch.device, out: Path, parameters: dict | None = None) -> dict:
    """The primary notebook, headless, on `device` (with `parameters` over its defaults); its metrics."""
    import papermill
    with tempfile.TemporaryDirectory() as tmp:
        papermill.execute_notebook(str(NOTEBOOK), str(out / "notebook.ipynb"), cwd=str(ROOT), progress_bar=False,
                                   parameters={**(parameters or {}), "device": str(device), "output_dir": tmp})
        metrics = json.loads((Path(tmp) / "metrics.json").read_text())
    return {"final": metrics["final"], "train_seconds": metrics["train_seconds"], "precision": metrics["params"]["precision"]}


def addition_check(device: torch.device, overrides: dict | None = None, seed: int = 1) -> dict:
    """The MNIST-addition recipe `ADDITION_RECIPE` (with `overrides`), one seed, on `device`: its sum accuracy, digit
    accuracy, lengths, attempts and seconds."""
    config = AdditionConfig(**{**ADDITION_RECIPES[ADDITION_RECIPE], **(overrides or {})}, seed=seed, device=str(device),
                            log_interval=10**9)
    with tempfile.TemporaryDirectory() as tmp:
        data = prepare_addition(config.digits, seed, config.val_size, train_pairs=config.train_pairs)
        metrics = fit_addition(AdditionConfig(**{**config.to_dict(), "output_dir": tmp}), data, log=lambda line: None)["metrics"]
    return {"recipe": ADDITION_RECIPE, "overrides": overrides or {}, "seed": seed, "final": metrics["final"],
            "attempts": 1 + len(metrics["restarts"]), "train_seconds": metrics["train_seconds"],
            "precision": metrics["params"]["precision"],
            "lengths": {n: r["repaired_sum_acc"] for n, r in metrics.get("lengths", {}).get("lengths", {}).items()}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="a CUDA device (default: the first)")
    parser.add_argument("--rounds", type=int, default=1, help="benchmark rounds (seeds 1, 2, ...)")
    parser.add_argument("--out", type=Path, default=RESULTS / "gpu", help="default: results/gpu in the repository")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check.py: no CUDA GPU on this machine; nothing to check (the GPU path stays unmeasured).")
        return 0
    device = resolve_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"gpu": torch.cuda.get_device_name(device), "versions": versions(device)}
    print(f"1/4 sync check on {report['gpu']}", flush=True)
    report["sync_check"] = sync_check(device)
    print("2/4 benchmark", flush=True)
    report["benchmark"] = run_benchmark(list(BENCHMARKED), args.rounds, device)
    report["benchmark"]["command"] = "python tools/gpu_check.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print("3/4 the primary notebook", flush=True)
    report["notebook"] = notebook_check(device, args.out)
    print(f"4/4 MNIST addition, {ADDITION_RECIPE}", flush=True)
    report["addition"] = addition_check(device)
    (args.out / "gpu.json").write_text(json.dumps(report, indent=1))
    addition = report["addition"]
    (args.out / "summary.md").write_text(
        f"# The GPU checks on {report['gpu']}\n\nWritten by `{report['benchmark']['command']}`.\n\n"
        f"* No host sync in {report['sync_check']['steps']} training steps ({report['sync_check']['configuration']}, "
        f"{report['sync_check']['precision']}) under `torch.cuda.set_sync_debug_mode(\"error\")`.\n"
        f"* The primary notebook with `-p device {device}`: joint accuracy {report['notebook']['final']['joint_acc']:.2%} "
        f"in {report['notebook']['train_seconds']:.1f} s of training ({report['notebook']['precision']}).\n"
        f"* MNIST addition, `{ADDITION_RECIPE}`, seed {addition['seed']}: sum {addition['final']['sum_acc']:.2%} at N = 2, "
        f"{addition['attempts']} attempt(s), {addition['train_seconds']:.0f} s of training ({addition['precision']}); "
        "re-paired sums " + ", ".join(f"N = {n}: {v:.2%}" for n, v in addition["lengths"].items()) + ".\n\n"
        + benchmark_table(report["benchmark"]))
    print(f"wrote {args.out / 'gpu.json'} and summary.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
