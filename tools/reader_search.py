"""The digit reader's search, on the validation split: a backbone with a linear layer to the 10 digits, trained on
the digit labels alone (cross-entropy with label smoothing, the random affine augmentation, one-cycle AdamW: the
training the relabelled epochs of MNIST addition give a perception), its validation accuracy after every epoch and
its seconds. The candidates the search tried and the recipes it varied are named here; what it chose lives in the
package (`helpers.core.backbones`, the recipes).

    python tools/reader_search.py mid --epochs 30 --seeds 401 402 403
    python tools/reader_search.py late96 --epochs 20 --recalibrate
    python tools/reader_search.py --table          # results/validation/reader/summary.md from the runs there
    python tools/reader_search.py --table --plot   # and images/reader_search.png: accuracy against seconds

Each run writes results/validation/reader/<name>.json (name: the candidate and what differs from the defaults, and
the seed). 50,000 training images, 10,000 validation images (the fixed split of `val_size` 10000); no test image is
read.
"""
import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from helpers.core.augment import random_affine
from helpers.core.backbones import BACKBONES, conv_pool_bn, three_conv_backbone, to_320
from helpers.core.device import device_name
from helpers.core.mnist import prepare_data
from helpers.core.paths import RESULTS
from helpers.core.provenance import versions
from helpers.core.training import epoch_generator, make_optimizer, recalibrate_batch_norm

OUT = RESULTS / "validation" / "reader"


def stage(c_in: int, c_out: int, padding: int = 1) -> list[nn.Module]:
    """A 3x3 convolution with batch norm and ReLU, no pooling (padding 1 keeps the map's size)."""
    return [nn.Conv2d(c_in, c_out, 3, padding=padding, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def last(c_in: int, c_out: int) -> list[nn.Module]:
    """A 3x3 convolution without padding (7 -> 5 px) and the projection to 320 features."""
    return [*stage(c_in, c_out, padding=0), *to_320(c_out * 25)]


# The candidates tried beside the package's backbones (each: 1x28x28 -> 320 features, as every backbone gives).
CANDIDATES = {
    **BACKBONES,
    # mid with a fourth convolution at 7 px (64 channels): more depth late, where a multiply-add costs least here
    "mid4": lambda: nn.Sequential(*conv_pool_bn(1, 16, 5, 2), *conv_pool_bn(16, 32, 3, 1), *stage(32, 64), *last(64, 64)),
    # mid with 48 channels at 14 px
    "mid4w": lambda: nn.Sequential(*conv_pool_bn(1, 16, 5, 2), *conv_pool_bn(16, 48, 3, 1), *stage(48, 64), *last(64, 64)),
    # two convolutions at 7 px and a wider last one
    "mid5": lambda: nn.Sequential(*conv_pool_bn(1, 16, 5, 2), *conv_pool_bn(16, 32, 3, 1), *stage(32, 64), *stage(64, 64),
                                  *last(64, 96)),
    # the channels late: 96 at 7 px, 128 in the last convolution
    "late96": lambda: nn.Sequential(*conv_pool_bn(1, 16, 5, 2), *conv_pool_bn(16, 32, 3, 1), *stage(32, 96), *stage(96, 96),
                                    *last(96, 128)),
    "late2": lambda: nn.Sequential(*conv_pool_bn(1, 24, 5, 2), *conv_pool_bn(24, 48, 3, 1), *stage(48, 64), *last(64, 96)),
    # wide's layout with fewer channels in one of its first two convolutions
    "w3248": lambda: three_conv_backbone(32, 48),
    "w2464": lambda: three_conv_backbone(24, 64),
}
DEFAULTS = {"epochs": 15, "batch_size": 512, "lr": 0.01, "weight_decay": 0.01, "smoothing": 0.1, "degrees": 10.0,
            "shift": 2.0, "scale": 0.1, "dropout": 0.0, "ema": 0.0, "recalibrate": False}


def multiply_adds(model: nn.Module) -> int:
    """Multiply-adds of one image's forward pass through the convolutions and linear layers."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += output[0].numel() * module.in_channels // module.groups * math.prod(module.kernel_size)
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features
    hooks = [m.register_forward_hook(count) for m in model.modules()]
    model.eval()(torch.zeros(1, 1, 28, 28))
    for hook in hooks:
        hook.remove()
    return total


def train_reader(candidate: str, seed: int, data, epochs: int, batch_size: int, lr: float, weight_decay: float,
                 smoothing: float, degrees: float, shift: float, scale: float, dropout: float, ema: float,
                 recalibrate: bool, log=print) -> dict:
    """Train one reader on `data` (its training split) and read its validation accuracy after every epoch (`ema` > 0:
    also that of an exponential moving average of its weights and batch-norm statistics, with that decay per step)."""
    torch.manual_seed(seed)
    net = nn.Sequential(CANDIDATES[candidate](), *([nn.Dropout(dropout)] if dropout else []), nn.Linear(320, 10))
    net = net.to(memory_format=torch.channels_last)
    macs, n = multiply_adds(net), len(data.train_x)
    steps = math.ceil(n / batch_size)
    optimizer, scheduler = make_optimizer(net.parameters(), lr, weight_decay, epochs, steps)
    averaged = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(ema), use_buffers=True) if ema else None

    def accuracy(model=net) -> float:
        model.eval()
        with torch.no_grad():
            read = torch.cat([model(data.eval_x[i:i + 2000].contiguous(memory_format=torch.channels_last)).argmax(-1)
                              for i in range(0, len(data.eval_x), 2000)])
        return (read == data.eval_y).float().mean().item()
    history = []
    for epoch in range(1, epochs + 1):
        generator = epoch_generator(seed, epoch)
        order = torch.randperm(n, generator=generator)
        net.train()
        start = time.perf_counter()
        for step in range(steps):
            idx = order[step * batch_size:(step + 1) * batch_size]
            images = random_affine(data.train_x[idx], generator, data.background, degrees, shift, scale)
            loss = F.cross_entropy(net(images.contiguous(memory_format=torch.channels_last)), data.train_y[idx],
                                   label_smoothing=smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if averaged is not None:
                averaged.update_parameters(net)
        history.append({"epoch": epoch, "seconds": time.perf_counter() - start, "acc": accuracy(),
                        **({"ema_acc": accuracy(averaged.module)} if averaged is not None else {})})
        log(f"  epoch {epoch}: validation {history[-1]['acc']:.2%} ({history[-1]['seconds']:.1f} s)")
    result = {"final": history[-1]["acc"]}
    if averaged is not None:  # the variant is the averaged weights
        result = {"final": history[-1]["ema_acc"], "without_ema": history[-1]["acc"]}
    if recalibrate:  # batch norm's statistics of the clean training images (as `recalibrate_bn` does)
        start = time.perf_counter()
        recalibrate_batch_norm(net, data.train_x, lambda batch: net(batch.contiguous(memory_format=torch.channels_last)))
        history[-1]["seconds"] += time.perf_counter() - start
        result = {"final": accuracy(), "before_recalibration": history[-1]["acc"]}
    return {"candidate": candidate, "seed": seed, "multiply_adds": macs, "history": history,
            "train_seconds": sum(h["seconds"] for h in history), **result}


def run_name(candidate: str, settings: dict, seed: int) -> str:
    """<candidate>[-<setting><value>...]-seed<k>: what differs from `DEFAULTS`, in their order."""
    changed = [f"{key}{value}" if not isinstance(value, bool) else key for key, value in settings.items()
               if value != DEFAULTS[key]]
    return "-".join([candidate, *changed, f"seed{seed}"])


def table(folder: Path = OUT) -> str:
    """summary.md: one row per candidate and recipe, over its seeds."""
    groups = {}
    for path in sorted(folder.glob("*.json")):
        run = json.loads(path.read_text())
        groups.setdefault(path.stem.rsplit("-seed", 1)[0], []).append(run)
    lines = ["# The digit reader's search, on the validation split", "",
             "Written by `python tools/reader_search.py --table` from the runs beside it (`python tools/reader_search.py "
             "CANDIDATE [--setting value ...] --seeds ...`). Validation accuracy (%) of one network reading the 10,000 "
             "validation images, mean ± std over its seeds; seconds of training per epoch over the 50,000 training "
             "images and in all, on the CPU named in each run, one run at a time (*shared the CPU*: a test run shared the "
             "2 cores with it, so its seconds are high).", "",
             "| candidate and recipe | multiply-adds per image | seeds | validation (%) | s per epoch | train s |",
             "|---|---|---|---|---|---|"]
    for name, runs in groups.items():
        finals = [100 * r["final"] for r in runs]
        std = statistics.stdev(finals) if len(finals) > 1 else 0.0
        per_epoch = statistics.mean(r["train_seconds"] / len(r["history"]) for r in runs)
        shared = " (shared the CPU)" if any(r.get("shared_cpu") for r in runs) else ""
        lines.append(f"| {name} | {runs[0]['multiply_adds'] / 1e6:.2f} M | {', '.join(str(r['seed']) for r in runs)} | "
                     f"{statistics.mean(finals):.2f} ± {std:.2f} | {per_epoch:.1f}{shared} | "
                     f"{statistics.mean(r['train_seconds'] for r in runs):.0f}{shared} |")
    return "\n".join(lines) + "\n"


def plot(folder: Path = OUT, benchmark: Path = RESULTS / "benchmark-epyc" / "benchmark.json", image=None) -> None:
    """Digit accuracy against seconds of training: each candidate and recipe of the search (validation, mean over its
    seeds, whiskers the seeds' range; hollow where a test run shared the CPU, so its seconds are high), numbered and
    named in a key beside the plot; the benchmark's pipelines where it has run on the search's CPU (test digits, its
    rows' mean seconds); the best published single-CNN mean (cdeotte's 99.64 %, 30 GPU epochs) and 99.70 % as lines."""
    import matplotlib.pyplot as plt

    from helpers.core.paths import IMAGES
    groups = {}
    for path in sorted(folder.glob("*.json")):
        run = json.loads(path.read_text())
        groups.setdefault(path.stem.rsplit("-seed", 1)[0], []).append(run)
    figure, axis = plt.subplots(figsize=(11, 5.5))
    key = []
    for number, (name, runs) in enumerate(sorted(groups.items(), key=lambda item: -statistics.mean(
            r["final"] for r in item[1])), 1):
        accuracies = [100 * r["final"] for r in runs]
        seconds = statistics.mean(r["train_seconds"] for r in runs)
        mean = statistics.mean(accuracies)
        shared = any(r.get("shared_cpu") for r in runs)
        axis.errorbar(seconds, mean, yerr=[[mean - min(accuracies)], [max(accuracies) - mean]], fmt="o", capsize=3,
                      color="tab:blue", mfc="white" if shared else "tab:blue", alpha=0.8)
        axis.annotate(str(number), (seconds, mean), textcoords="offset points", xytext=(4, 2), fontsize=7)
        key.append(f"{number:2d}  {name}, {runs[0]['multiply_adds'] / 1e6:.2f} M multiply-adds, {len(runs)} seed(s)"
                   + (" (shared CPU)" if shared else "") if "multiply_adds" in runs[0] else
                   f"{number:2d}  {name}, {len(runs)} seed(s)" + (" (shared CPU)" if shared else ""))
    if benchmark.is_file():
        result = json.loads(benchmark.read_text())
        for name in dict.fromkeys(r["name"] for r in result["runs"]):
            mine = [r for r in result["runs"] if r["name"] == name]
            digits, seconds = statistics.mean(100 * r["digit_acc"] for r in mine), statistics.mean(r["seconds"] for r in mine)
            axis.plot(seconds, digits, "s", color="tab:red")
            axis.annotate(f"{name} (test)", (seconds, digits), textcoords="offset points", xytext=(5, -9), fontsize=7,
                          color="tab:red")
    axis.axhline(99.64, color="grey", ls="--", lw=1)
    axis.axhline(99.70, color="tab:green", ls=":", lw=1)
    axis.set_xscale("log")
    axis.set_ylim(98.9, 99.8)
    axis.text(axis.get_xlim()[0], 99.645, " cdeotte's single CNN, mean of 1,500: 99.64 % (30 GPU epochs)", fontsize=7,
              color="grey")
    axis.text(axis.get_xlim()[0], 99.705, " 99.70 %", fontsize=7, color="tab:green")
    axis.text(1.02, 1.0, "\n".join(key), transform=axis.transAxes, fontsize=7, va="top", family="monospace")
    axis.set_xlabel("seconds of training on 2 CPU cores (log)")
    axis.set_ylabel("digits read right (%)")
    axis.set_title("The digit reader: blue, the search on validation (hollow: shared the CPU); red, the benchmark on test")
    figure.tight_layout()
    out = image or IMAGES / "reader_search.png"
    figure.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(figure)
    print(f"wrote {out}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("candidate", nargs="?", choices=sorted(CANDIDATES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[401])
    for key, value in DEFAULTS.items():
        if isinstance(value, bool):
            parser.add_argument(f"--{key}", action="store_true")
        else:
            parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--table", action="store_true", help="only write summary.md from the runs there")
    parser.add_argument("--plot", action="store_true", help="also draw images/reader_search.png")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if not args.table:
        if args.candidate is None:
            parser.error("name a candidate (or --table)")
        settings = {key: getattr(args, key) for key in DEFAULTS}
        data = prepare_data(val_size=10_000)
        args.out.mkdir(parents=True, exist_ok=True)
        for seed in args.seeds:
            print(f"{args.candidate} {settings} seed {seed}", flush=True)
            run = train_reader(args.candidate, seed, data, **settings, log=lambda line: print(line, flush=True))
            run.update(settings=settings, device=device_name(torch.device("cpu")), versions=versions())
            (args.out / f"{run_name(args.candidate, settings, seed)}.json").write_text(json.dumps(run, indent=1))
            print(f"validation {run['final']:.2%} in {run['train_seconds']:.0f} s", flush=True)
    text = table(args.out)
    (args.out / "summary.md").write_text(text)
    print(text)
    if args.plot:
        plot(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
