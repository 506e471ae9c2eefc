"""Where the repository's own files are: the default folders of data, runs, results, models and figures.

A leaf module: it imports nothing of the package, so every module may import it. Paths a user gives (an output
folder, a checkpoint, an image) are read relative to the working directory, as any command line reads them; only the
defaults below are the repository's, wherever the command runs from.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository (helpers/core/paths.py)
DATA = ROOT / "data"  # where torchvision downloads MNIST when MNIST_DATA_DIR is not set
RUNS = ROOT / "runs"  # a run's model.pt, metrics.json and figures (ignored by git)
RESULTS = ROOT / "results"  # committed runs, summaries, benchmarks
MODELS = ROOT / "models"  # the shipped checkpoints
IMAGES = ROOT / "images"  # the README's figures
NOTEBOOK = ROOT / "notebooks" / "neural_network_on_steroids.ipynb"  # the primary notebook, which sweep.py runs
ADDITION_NOTEBOOK = ROOT / "notebooks" / "mnist_addition.ipynb"  # the MNIST-addition benchmark's, which it runs too


def relative_to_root(path) -> str:
    """`path` relative to the repository when it lies inside, so that committed results name no machine's folders."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


__all__ = ["ROOT", "DATA", "RUNS", "RESULTS", "MODELS", "IMAGES", "NOTEBOOK", "ADDITION_NOTEBOOK", "relative_to_root"]
