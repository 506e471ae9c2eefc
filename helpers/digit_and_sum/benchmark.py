"""The benchmark (`benchmark.py`, `tools/gpu_check.py`): the original design's pipeline, the public speed recipe of
tuomaso/train_mnist_fast and this project's recipes, trained alternately in one run and timed on training only.

The reference follows the original: a DataLoader over torchvision's MNIST with per-sample ToTensor + Normalize,
batch 128, shuffled; the classic 320-feature CNN with the original head; BCE on the 9 bits; Adam at lr 1e-3; 10
epochs. The project's recipes are the notebook's defaults with the overrides of `RECIPES`, trained by `fit`."""
from __future__ import annotations

import itertools
import math
import statistics
import tempfile

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision import transforms

from ..core.device import stopwatch
from ..core.mnist import MNIST_MEAN, MNIST_STD, data_root, load_mnist, normalize, prepare_data
from ..core.provenance import versions
from ..core.stats import mean_std
from .encoding import bits_to_int, encode_targets
from .evaluation import ACCURACIES, eval_numbers, evaluate
from .model import Net
from .recipes import RECIPES
from .sampler import RandomSampler
from .settings import Config
from .train import fit


def reference_pipeline(seed: int = 1, device="cpu"):
    """The original's pipeline, seeded. Returns the model and `train(batches)`, which trains on that
    many batches of the shuffled loader (None: one epoch), each batch moved to `device` as it comes."""
    torch.manual_seed(seed)
    dataset = torchvision.datasets.MNIST(data_root(), train=True, transform=transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))]))
    loader = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=True)
    model = Net(backbone="classic").to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    sampler = RandomSampler(128, seed=seed)

    def train(batches=None):
        model.train()
        for images, digits in itertools.islice(loader, batches):
            images, digits, number_bits = images.to(device), digits.to(device), sampler.getRandomBatch().to(device)
            loss = F.binary_cross_entropy_with_logits(
                model(images, number_bits), encode_targets(digits, bits_to_int(number_bits)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model, train


class FastMNISTNet(nn.Module):
    """tuomaso/train_mnist_fast's network (notebook 8_Final_00s76.ipynb, MIT licence): conv 1 -> 24 5x5, max-pool,
    ReLU, conv 24 -> 32 3x3, max-pool, ReLU, 800 -> 256 -> 10, log-softmax. It reads digits only."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 24, 5, 1), nn.Conv2d(24, 32, 3, 1)
        self.fc1, self.fc2 = nn.Linear(800, 256), nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        return F.log_softmax(self.fc2(F.relu(self.fc1(torch.flatten(x, 1)))), dim=1)


def fast_mnist(seed: int, splits: dict, device="cpu", log=print) -> list[dict]:
    """tuomaso/train_mnist_fast's final recipe, re-implemented from its public notebook: the training images
    normalized with MNIST's published mean and std and shuffled once (its data_saver.py), resident on the device, one
    epoch in that order in batches of 256, Adam at lr 0.01 with betas (0.7, 0.9) under a one-cycle schedule without
    momentum cycling, NLL loss. Returns its one epoch's history: seconds and digit accuracy on the test images."""
    device = torch.device(device)
    torch.manual_seed(seed)
    images, labels = splits["train"]
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    train_x, train_y = normalize(images[order], MNIST_MEAN, MNIST_STD).to(device), labels[order].to(device)
    test_x, test_y = normalize(splits["test"][0], MNIST_MEAN, MNIST_STD).to(device), splits["test"][1].to(device)
    model = FastMNISTNet().to(device)
    steps = math.ceil(len(train_x) / 256)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.7, 0.9))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.01, total_steps=steps, cycle_momentum=False)
    elapsed = stopwatch(device)
    model.train()
    for i in range(steps):
        loss = F.nll_loss(model(train_x[256 * i:256 * (i + 1)]), train_y[256 * i:256 * (i + 1)])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    seconds = elapsed()
    model.eval()
    with torch.no_grad():
        digits = torch.cat([model(test_x[i:i + 2000]).argmax(1) for i in range(0, len(test_x), 2000)])
    digit_acc = (digits == test_y).float().mean().item()
    log(f"  epoch 1: digit {digit_acc:.2%} ({seconds:.1f} s)")
    return [{"epoch": 1, "seconds": seconds, "digit_acc": digit_acc}]


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
    """Train a project recipe with `fit`; returns its per-epoch history, the precision it ran in and why."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(**overrides, seed=seed, device=str(device), output_dir=tmp)
        metrics = fit(config, data, log=lambda line: None)["metrics"]
    for h in metrics["history"]:
        log(f"  epoch {h['epoch']}: joint {h['joint_acc']:.2%} ({h['seconds']:.1f} s)")
    return metrics["history"], metrics["params"]["precision"], metrics["versions"]["precision"]


def summarize(history: list[dict], n_train: int = 60_000, target: float = 0.99, key: str = "joint_acc") -> dict:
    """Training seconds, samples/s, seconds until `key` (joint accuracy; digits for a digits-only pipeline) first
    reached `target`, final accuracies."""
    seconds = sum(h["seconds"] for h in history)
    elapsed, reached = 0.0, None
    for h in history:
        elapsed += h["seconds"]
        if reached is None and h[key] >= target:
            reached = elapsed
    return {"seconds": seconds, "samples_per_s": n_train * len(history) / seconds, "seconds_to_99": reached,
            **{k: history[-1].get(k) for k in ACCURACIES}}


FAST_MNIST = "train_mnist_fast"  # the benchmark's name for tuomaso/train_mnist_fast's recipe
BENCHMARKED = ("default", "fast", "strong", "adds", "reader")  # the recipes docs/speed.md's table shows


def run_benchmark(names: list[str], rounds: int, device: torch.device, precision: str | None = None, log=print) -> dict:
    """`rounds` alternating rounds (seeds 1, 2, ...) of the reference and the pipelines `names` (recipes of `RECIPES`,
    with `precision`, if given, in place of each one's own, or `FAST_MNIST`); every run's times, accuracies and
    precision with its reason."""
    splits = load_mnist()
    data = prepare_data()
    configs = {name: {**RECIPES[name], **({"precision": precision} if precision else {})}
               for name in names if name != FAST_MNIST}
    runs = []
    for seed in range(1, rounds + 1):
        log(f"round {seed}: reference")
        runs.append({"name": "reference", "seed": seed, "precision": "fp32", "precision_reason": "the original's",
                     **summarize(reference(seed, splits["test"], device=device, log=log))})
        for name in names:
            log(f"round {seed}: {name} {configs.get(name, '')}")
            if name == FAST_MNIST:
                history, used, why = fast_mnist(seed, splits, device, log), "fp32", "the recipe's"
                runs.append({"name": name, "seed": seed, "precision": used, "precision_reason": why,
                             **summarize(history, key="digit_acc")})
                continue
            history, used, why = project(configs[name], seed, data, device, log)
            runs.append({"name": name, "seed": seed, "precision": used, "precision_reason": why, **summarize(history)})
    return {"configs": configs, "runs": runs, "defaults": Config().to_dict(), "versions": versions(device),
            "device": str(device), "threads": torch.get_num_threads()}


def benchmark_table(result: dict) -> str:
    """The benchmark's table: per pipeline, mean ± std over the rounds, each round's time over its reference's, and
    the mean time over the reference's and the default's mean; then why each ran in its precision."""
    runs = result["runs"]
    names = list(dict.fromkeys(r["name"] for r in runs))
    mean_seconds = {n: statistics.mean(r["seconds"] for r in runs if r["name"] == n) for n in names}

    def accuracy(mine, key):
        return "–" if mine[0].get(key) is None else mean_std(r[key] for r in mine)
    lines = ["# Benchmark: the original's pipeline against this project's recipes", "",
             f"Written by `{result['command']}` ({result['versions']['device']}, {result['device']}, "
             f"{result['threads']} threads, torch {result['versions']['torch']}); training seconds only; accuracies on "
             "the fixed test pairs; mean ± std over the rounds (seeds 1, 2, ...); *first ≥ 99.0 %*: the seconds of "
             f"training until the joint accuracy (for `{FAST_MNIST}`, which reads digits only, the digit accuracy) "
             "first reached 99.0 %, per round; *per round*: each round's seconds over the same round's reference, lowest "
             "to highest; *mean*: the mean seconds over the reference's mean (and over the default's).", "",
             "| pipeline | precision | rounds | train s | first ≥ 99.0 % at (s) | digit | sum | joint | "
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
                     f"{', '.join(reached)} | {accuracy(mine, 'digit_acc')} | {accuracy(mine, 'sum_acc')} | "
                     f"{accuracy(mine, 'joint_acc')} | {ratios[0]:.2f}–{ratios[-1]:.2f} | "
                     f"{mean_seconds[name] / mean_seconds['reference']:.2f} | {to_default} |")
    lines += ["", "Precision, and why:", ""]
    lines += [f"* {name}: {next(r for r in runs if r['name'] == name).get('precision_reason', '–')}" for name in names]
    return "\n".join(lines) + "\n"


__all__ = ["reference_pipeline", "FastMNISTNet", "fast_mnist", "reference", "project", "summarize", "FAST_MNIST", "BENCHMARKED",
           "run_benchmark", "benchmark_table"]
