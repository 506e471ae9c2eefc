"""Issue 39, point 4, on the validation split: does reading each image several times (test-time views) or by several
learned programs (an ensemble) lift the per-digit accuracy of `learned` trained at N = 2 towards 99.75 %?

Trains the named recipe (`add-learned-mid-n2`) on the validation split for each seed given (each run's metrics.json,
and its model.pt, which git ignores, under results/validation/mnist_addition/perception-views/), then reads the
validation images: each model alone; with `views` extra randomly shifted copies of each image (the training augmentation, a fixed generator) averaged in probability; and the models together,
each model's classes turned into digit values through its own learned table (`program_values`: no label read), their
value probabilities averaged. Each also with batch norm's statistics re-estimated on the clean training images
(`recalibrated`; the weights unchanged). Labels only score. Writes views.json and summary.md there.

    python probes/perception_views.py 301 302 303
"""
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from helpers.core.augment import random_affine
from helpers.core.paths import RESULTS, relative_to_root
from helpers.mnist_addition.data import prepare_addition
from helpers.mnist_addition.lengths import load_addition_model
from helpers.mnist_addition.relabel import program_values
from helpers.mnist_addition.recipes import ADDITION_SWEEPS
from helpers.mnist_addition.training import AdditionConfig, fit_addition

OUT = RESULTS / "validation" / "mnist_addition" / "perception-views"
VIEWS = (0, 4, 8)


@torch.no_grad()
def recalibrated(model, images: torch.Tensor):
    """A copy of `model` whose batch norms hold the plain mean statistics of `images` (clean, un-augmented): training
    left them following augmented batches."""
    model = copy.deepcopy(model)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    for i in range(0, len(images), 1000):
        model.network(images[i:i + 1000].contiguous(memory_format=model.memory_format))
    return model.eval()


@torch.no_grad()
def value_probabilities(model, images: torch.Tensor, views: int, background: float) -> torch.Tensor:
    """(M, 10) probabilities over digit values: the image and `views` shifted copies, softmax averaged."""
    values = program_values(model)
    generator = torch.Generator().manual_seed(0)
    total = 0
    for view in range(views + 1):
        x = images if view == 0 else random_affine(images, generator, background)
        total = total + torch.cat([model.network(x[i:i + 2000].contiguous(memory_format=model.memory_format)).softmax(-1)
                                   for i in range(0, len(x), 2000)])
    return (total / (views + 1))[:, values.argsort()]  # column v: the class whose value is v


def main(seeds: list[int]) -> None:
    recipe = ADDITION_SWEEPS["add-learned-mid-n2"]
    report = {"recipe": recipe, "seeds": seeds, "models": {}, "ensemble": {}}
    probabilities = {}
    for seed in seeds:
        folder = OUT / f"seed{seed}"
        config = AdditionConfig(**recipe, seed=seed, val_size=10_000, output_dir=str(relative_to_root(folder)), device="cpu")
        data = prepare_addition(2, seed, val_size=10_000)
        if not (folder / "metrics.json").exists():
            fit_addition(config, data, log=lambda line: print(line, flush=True) if line.startswith("Epoch") else None)
        metrics = json.loads((folder / "metrics.json").read_text())
        model, _ = load_addition_model(folder / "model.pt")
        if program_values(model) is None:
            print(f"seed {seed}: its table is not exact; left out")
            continue
        truth = data.eval_digits.cpu()
        row = {"train_seconds": metrics["train_seconds"], "restarts": len(metrics["restarts"])}
        models = {"": model, "recalibrated, ": recalibrated(model, data.train_x)}
        for (name, variant), views in ((m, v) for m in models.items() for v in VIEWS):
            start = time.perf_counter()
            p = value_probabilities(variant, data.eval_x, views, (0 - data.mean) / data.std)
            probabilities.setdefault(f"{name}views {views}", []).append(p)
            row[f"{name}views {views}"] = (p.argmax(-1) == truth).float().mean().item()
            row[f"{name}views {views}, seconds"] = time.perf_counter() - start
        report["models"][seed] = row
        print(seed, row, flush=True)
    for name, each in probabilities.items():
        for k in range(2, len(each) + 1):
            mean = torch.stack(each[:k]).mean(0)
            report["ensemble"][f"{k} models, {name}"] = (mean.argmax(-1) == truth).float().mean().item()
    print(json.dumps(report["ensemble"], indent=1))
    (OUT / "views.json").write_text(json.dumps(report, indent=1))
    (OUT / "summary.md").write_text(summary(report))


def summary(report: dict) -> str:
    """The digit accuracy of every reading, per seed and for the ensembles, as a Markdown table."""
    seeds = list(report["models"])
    rows = [f"| {name} | " + " | ".join(f"{100 * report['models'][s][name]:.2f}" for s in seeds)
            + f" | {100 * statistics.mean(report['models'][s][name] for s in seeds):.2f} | "
            + " | ".join(f"{100 * report['ensemble'][f'{k} models, {name}']:.2f}" for k in range(2, len(seeds) + 1)) + " |"
            for name in report["models"][seeds[0]] if name.endswith(tuple("0123456789")) and "views" in name]
    seconds = [report["models"][s]["train_seconds"] for s in seeds]
    return "\n".join([
        "# Reading the digits several times, or by several learned programs (validation split)", "",
        f"`learned`, `mid`, trained at N = 2 with the named recipe on the validation split (seeds {', '.join(map(str, seeds))});"
        " digit accuracy (%) on the 10,000 validation images, each model's classes turned into digit values by its"
        " own learned table (no label read). Views: the image and that many randomly shifted copies, probabilities"
        " averaged; recalibrated: batch norm's statistics re-estimated on the clean training images.", "",
        f"Training, every attempt counted: {', '.join(f'{x:.0f}' for x in seconds)} s ({sum(seconds):.0f} s for the"
        f" three); restarts: {', '.join(str(report['models'][s]['restarts']) for s in seeds)}.", "",
        f"`python probes/perception_views.py {' '.join(map(str, seeds))}`", "",
        "| reading | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | "
        + " | ".join(f"ensemble of {k}" for k in range(2, len(seeds) + 1)) + " |",
        "|---|" + "---|" * (2 * len(seeds)), *rows, ""])


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]])
