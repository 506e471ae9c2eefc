"""The checks a maintainer with a CUDA GPU runs once, in one command; no session of this project has had a GPU.

    python gpu_check.py                  # the first CUDA device
    python gpu_check.py --device cuda:1 --rounds 2

1. No host sync in training: a few hundred steps of the robust recipe (augment="robust", centre_input, held-out
   pairs, the symadder head) under `torch.cuda.set_sync_debug_mode("error")`, log lines off: any operation that
   makes the host wait for the GPU raises.
2. The benchmark on the GPU: the original's pipeline and the named configurations (`benchmark.py`), timed.
3. The primary notebook through papermill with `-p device cuda`.

It writes results/gpu/gpu.json and results/gpu/summary.md, with the GPU's name. On a machine without a CUDA GPU it
says so in one line and exits 0.
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
from helpers.digit_and_sum.configs import CONFIGS
from helpers.digit_and_sum.runs import Config, make_training
from helpers.digit_and_sum.training import train_epoch


def sync_check(device: torch.device, steps: int = 300) -> dict:
    """`steps` training steps with every host sync an error; returns what ran."""
    data = prepare_data(train_size=128 * steps).to(device)
    config = Config(epochs=1, augment="robust", centre_input=True, holdout=30, head="symadder",
                            device=str(device), log_interval=10**9).resolved()
    model, optimizer, scheduler = make_training(config, len(data.train_x), device=device)
    torch.cuda.set_sync_debug_mode("error")
    try:
        loss, _ = train_epoch(model, data, optimizer, scheduler, 1, config, log=lambda line: None)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return {"steps": steps, "configuration": "augment robust, centre_input, holdout 30, head symadder",
            "precision": config.precision, "syncs": 0, "mean_loss": loss.item()}


def notebook_check(device: torch.device, out: Path) -> dict:
    """The primary notebook, headless, on the GPU; its metrics."""
    import papermill
    with tempfile.TemporaryDirectory() as tmp:
        papermill.execute_notebook(str(NOTEBOOK), str(out / "notebook.ipynb"), cwd=str(ROOT),
                                   parameters={"device": str(device), "output_dir": tmp}, progress_bar=False)
        metrics = json.loads((Path(tmp) / "metrics.json").read_text())
    return {"final": metrics["final"], "train_seconds": metrics["train_seconds"], "precision": metrics["params"]["precision"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="a CUDA device (default: the first)")
    parser.add_argument("--rounds", type=int, default=1, help="benchmark rounds (seeds 1, 2, ...)")
    parser.add_argument("--out", type=Path, default=RESULTS / "gpu", help="default: results/gpu in the repository")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check.py: no CUDA GPU on this machine; nothing to check (the GPU path stays unmeasured).")
        return 0
    import benchmark
    device = resolve_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"gpu": torch.cuda.get_device_name(device), "versions": versions(device)}
    print(f"1/3 sync check on {report['gpu']}", flush=True)
    report["sync_check"] = sync_check(device)
    print("2/3 benchmark", flush=True)
    report["benchmark"] = benchmark.run(list(CONFIGS), args.rounds, device)
    print("3/3 the primary notebook", flush=True)
    report["notebook"] = notebook_check(device, args.out)
    (args.out / "gpu.json").write_text(json.dumps(report, indent=1))
    table = benchmark.benchmark_table(report["benchmark"])
    (args.out / "summary.md").write_text(
        f"# The GPU checks on {report['gpu']}\n\nWritten by `python gpu_check.py {' '.join(sys.argv[1:])}`.\n\n"
        f"* No host sync in {report['sync_check']['steps']} training steps ({report['sync_check']['configuration']}, "
        f"{report['sync_check']['precision']}) under `torch.cuda.set_sync_debug_mode(\"error\")`.\n"
        f"* The primary notebook with `-p device {device}`: joint accuracy {report['notebook']['final']['joint_acc']:.2%} "
        f"in {report['notebook']['train_seconds']:.1f} s of training ({report['notebook']['precision']}).\n\n{table}")
    print(f"wrote {args.out / 'gpu.json'} and summary.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
