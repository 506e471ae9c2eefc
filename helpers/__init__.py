"""Reusable code for the Neural Network on Steroids notebooks, one module per chapter, in the notebook's order:

    device      where a run computes (CPU, CUDA, MPS, ...) and in which precision (fp32, bf16)
    data        MNIST from disk or a download, normalized tensors, a validation split
    sampler     RandomSampler: the numbers 0..9 for each batch, as 4 bits
    encoding    the 9-bit output code (and the ablation's one-hot and softmax codes), the loss, decoding
    model       Net: CNN backbone -> 320 features, + 4 number bits -> head (mlp 324 -> 128 -> 64 -> 9, line, adder, symadder)
    augment     the random affine change and augment="robust"'s corruptions, drawn on the CPU, moved without a sync
    training    one epoch (held-out pairs), batch-norm recalibration, evaluation, the exhaustive evaluation
    checkpoints saving, reading safely, exporting and loading models; atomic writes
    runs        a run's typed settings (Config), fit(), metrics.json with provenance
    user_input  predict() on images and numbers of any accepted form, confidence, image files as MNIST
    configs     the named configurations the scripts share (CONFIGS, SWEEPS)
    results     committed runs read the same way, and the summary tables
    reference   the original's training pipeline, for the speed comparisons

`import helpers` gives the public names of every chapter (helpers.fit, helpers.Net, ...; `helpers.__all__`).
Submodules used on their own: `helpers.shifts` (image shifts for the robustness benchmark and the robust
augmentation), `helpers.figures`, `helpers.explore` and `helpers.draw` (the notebook's code display and panels).
"""
from pathlib import Path as _Path

ROOT = _Path(__file__).resolve().parent.parent  # the repository

from . import device, data, sampler, encoding, model, augment, training, checkpoints, runs, user_input, configs, \
    results, reference  # noqa: E402
from .device import *  # noqa: E402,F401,F403
from .data import *  # noqa: E402,F401,F403
from .sampler import *  # noqa: E402,F401,F403
from .encoding import *  # noqa: E402,F401,F403
from .model import *  # noqa: E402,F401,F403
from .augment import *  # noqa: E402,F401,F403
from .training import *  # noqa: E402,F401,F403
from .checkpoints import *  # noqa: E402,F401,F403
from .runs import *  # noqa: E402,F401,F403
from .user_input import *  # noqa: E402,F401,F403
from .configs import *  # noqa: E402,F401,F403
from .results import *  # noqa: E402,F401,F403
from .reference import *  # noqa: E402,F401,F403

__all__ = ["ROOT", *(name for module in (device, data, sampler, encoding, model, augment, training, checkpoints,
                                         runs, user_input, configs, results, reference) for name in module.__all__)]
