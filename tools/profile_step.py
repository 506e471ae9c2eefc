"""Where the training time goes: torch.profiler on the reference's and the named configurations' training steps.

    python tools/profile_step.py                   # the reference, the benchmarked recipes and those they replaced
    python tools/profile_step.py --device cuda     # the same on a GPU (the profiler then records its kernels too)
    python tools/profile_step.py --out results/profile   # also write summary.md there (the committed profile)
    python tools/profile_step.py --compile         # also time the symadder head under torch.compile against eager

For each pipeline, in one run on the same machine: a warm-up, then about 12,000 training images timed, then the
same again under the profiler. The reference is the original's pipeline (DataLoader, per-sample ToTensor and
Normalize, the classic CNN, Adam); the others are the benchmarked recipes (`BENCHMARKED`) as they are now and, marked "before", the
recipes of `fast` and `strong` that the current ones replaced (the same code: the difference is the recipe).
"""
import argparse
import dataclasses
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from helpers.core.device import device_name, resolve_device, synchronize
from helpers.core.mnist import prepare_data
from helpers.digit_and_sum.benchmark import BENCHMARKED, reference_pipeline
from helpers.digit_and_sum.encoding import DIGIT_BITS, NUMBER_BITS, SUM_BITS
from helpers.digit_and_sum.heads import HEADS
from helpers.digit_and_sum.recipes import RECIPES
from helpers.digit_and_sum.settings import Config
from helpers.digit_and_sum.train import make_training, train_epoch

IMAGES = 12_800  # per timed pass: 100 steps of 128, 25 of 512
BEFORE = {  # the recipes the current fast and strong replaced (git history has them in helpers/configs.py)
    "fast (before)": {"epochs": 5, "batch_size": 512, "lr": 0.03, "precision": "bf16|fp32"},
    "strong (before)": {"backbone": "mid", "epochs": 16, "batch_size": 512, "lr": 0.03, "precision": "bf16|fp32",
                        "label_smoothing": 0.25, "recalibrate_bn": True},
}


def project_steps(data, device, overrides: dict):
    """`train()`: one pass over the first IMAGES training images with a configuration's step, on `device`."""
    config = Config(**{**overrides, "epochs": 3}, log_interval=10**9, device=str(device)).resolve()[0]
    model, optimizer, scheduler = make_training(config, IMAGES, device=device)  # a schedule for 3 passes
    subset = dataclasses.replace(data, train_x=data.train_x[:IMAGES], train_y=data.train_y[:IMAGES])

    def train():
        train_epoch(model, subset, optimizer, scheduler, 1, config, log=lambda line: None)
        synchronize(device)
    return train, config.precision


def head_steps(head, device, batch: int = 128, steps: int = 300) -> float:
    """Milliseconds per forward and backward of a head alone, on features and numbers of one batch."""
    features = torch.randn(batch, 320, device=device, requires_grad=True)
    number = torch.randint(0, 2, (batch, NUMBER_BITS), device=device).float()
    head(features, number).sum().backward()  # warm up (for a compiled head: compile)
    start = time.perf_counter()
    for _ in range(steps):
        head(features, number).sum().backward()
    synchronize(device)
    return (time.perf_counter() - start) / steps * 1e3


def compiled_head(device) -> list[str]:
    """The adder head's cost, eager and under torch.compile (what `adds` would gain), and what compiling costs."""
    def build(name):  # as Net builds its head
        return HEADS[name](NUMBER_BITS, DIGIT_BITS + SUM_BITS).to(device)
    torch.manual_seed(0)
    heads = {name: build(name) for name in ("mlp", "symadder")}
    start = time.perf_counter()
    heads["symadder, compiled"] = torch.compile(build("symadder"))
    head_steps(heads["symadder, compiled"], device, steps=1)
    compile_s = time.perf_counter() - start
    ms = {name: head_steps(head, device) for name, head in heads.items()}
    return ["", f"The heads alone, forward and backward on a batch of 128 (ms per step); compiling the symadder head "
            f"took {compile_s:.1f} s:", "", "| head | ms per step | vs mlp |", "|---|---|---|",
            *(f"| {name} | {value:.2f} | {value / ms['mlp']:.2f} |" for name, value in ms.items())]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="'cpu' (default), 'auto', 'cuda', 'cuda:1', ...")
    parser.add_argument("--out", type=Path, help="also write <out>/summary.md")
    parser.add_argument("--compile", action="store_true", help="also time the symadder head under torch.compile")
    args = parser.parse_args()
    device = resolve_device(args.device)
    data = prepare_data().to(device)
    reference = reference_pipeline(device=device)[1]
    pipelines = {"reference": (lambda: (reference(IMAGES // 128), synchronize(device)), "fp32")}
    for name, overrides in {**{name: RECIPES[name] for name in BENCHMARKED}, **BEFORE}.items():
        pipelines[name] = project_steps(data, device, overrides)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    per_epoch, tops = {}, {}
    for name, (train, precision) in pipelines.items():
        train()  # warm up
        start = time.perf_counter()
        train()
        per_epoch[name] = (time.perf_counter() - start) / IMAGES * 60_000
        with profile(activities=activities) as prof:
            train()
        events = sorted(prof.key_averages(), key=lambda e: getattr(e, sort), reverse=True)
        total = sum(getattr(e, sort) for e in events)
        tops[name] = (precision, [(e.key, getattr(e, sort) / total) for e in events[:6]])
        print(f"\n=== {name} ({precision}): {per_epoch[name]:.1f} s per 60,000 images ===")
        print(prof.key_averages().table(sort_by=sort, row_limit=12, max_name_column_width=40))
    lines = [f"# Where the training time goes ({device_name(device)}, {device})", "",
             f"Written by `python tools/profile_step.py{' --device ' + args.device if args.device != 'cpu' else ''}"
             f"{' --compile' if args.compile else ''} --out ...` ({torch.get_num_threads()} threads): "
             "seconds per epoch of 60,000 images, timed over 12,800 images, and the six operators with the most self "
             "time under torch.profiler (their share of it). *before*: the recipe the current one replaced.", "",
             "| pipeline | precision | s per epoch | vs reference | where the time goes |", "|---|---|---|---|---|"]
    for name, seconds in per_epoch.items():
        precision, top = tops[name]
        ops = ", ".join(f"{key.removeprefix('aten::')} {100 * share:.0f} %" for key, share in top)
        lines.append(f"| {name} | {precision} | {seconds:.1f} | {seconds / per_epoch['reference']:.2f} | {ops} |")
    if args.compile:
        lines += compiled_head(device)
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "summary.md").write_text(text)


if __name__ == "__main__":
    main()
