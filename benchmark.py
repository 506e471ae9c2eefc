"""Benchmark: the original's pipeline against this project's recipes, alternating, in one run.

    python benchmark.py                      # reference vs. the notebook's defaults, once each
    python benchmark.py default fast strong --repeats 3
    python benchmark.py fast train_mnist_fast --repeats 3   # against tuomaso/train_mnist_fast's recipe
    python benchmark.py default strong --repeats 3 --device cuda

Every pipeline is timed on training only (the evaluation after each epoch is not counted) and evaluated on the same
fixed test pairs; on an accelerator the clock is read after synchronizing (helpers.digit_and_sum.benchmark says what
each pipeline is). Results, with the device's name, each run's precision and the code's commit, go to
results/benchmark/benchmark.json and summary.md (--out to put them elsewhere).
"""
import argparse
import json
import sys
from pathlib import Path

import torch

from helpers.core.device import device_name, resolve_device
from helpers.core.paths import RESULTS
from helpers.digit_and_sum.benchmark import FAST_MNIST, benchmark_table, run_benchmark
from helpers.digit_and_sum.recipes import RECIPES


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="*", default=["default"], choices=[*RECIPES, FAST_MNIST], metavar="RECIPE",
                        help=f"recipes of helpers.digit_and_sum.recipes (default: default), or {FAST_MNIST}")
    parser.add_argument("--repeats", type=int, default=1, help="alternating rounds (seed 1, 2, ...)")
    parser.add_argument("--out", type=Path, default=RESULTS / "benchmark",
                        help="folder for benchmark.json and summary.md (default: results/benchmark in the repository)")
    parser.add_argument("--device", default="auto", help="'auto' (the accelerator if any, else the CPU), 'cpu', 'cuda', ...")
    parser.add_argument("--precision", help="every recipe in this precision instead of its own (e.g. fp32: what a CPU "
                                            "without native bf16 runs)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    try:
        device = resolve_device(args.device)
    except ValueError as error:
        parser.error(str(error))
    print(f"device {device} ({device_name(device)}), torch {torch.__version__}, {torch.get_num_threads()} threads")
    result = run_benchmark(args.configs, args.repeats, device, args.precision, log=lambda line: print(line, flush=True))
    result["command"] = "python benchmark.py " + " ".join(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps(result, indent=1))
    text = benchmark_table(result)
    (args.out / "summary.md").write_text(text)
    print(f"\n{text}\nwrote {args.out / 'benchmark.json'} and summary.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
