"""Reusable code for the Neural Network on Steroids notebook, one module per chapter, in the notebook's order:

    device      where a run computes (CPU, CUDA, MPS, ...) and in which precision (fp32, bf16)
    data        MNIST from disk or a download, normalized tensors, a validation split
    sampler     RandomSampler: the numbers 0..9 for each batch, as 4 bits
    encoding    the 9-bit output code (and the ablation's one-hot and softmax codes), the loss, decoding
    model       Net: CNN backbone -> 320 features, + 4 number bits -> 324 -> 128 -> 64 -> 9
    training    one epoch (augmentation, held-out pairs), batch-norm recalibration, evaluation, the exhaustive evaluation
    runs        a run's checked parameters, fit() with checkpoints, metrics.json
    user_input  predict() on images and numbers of any accepted form, confidence, image files as MNIST

`import helpers` gives every public name of every chapter (helpers.fit, helpers.Net, ...). Figures live in
`figures.py`; the command line for prediction is `predict.py`, the speed comparison `benchmark.py`.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository

from .device import *  # noqa: E402,F401,F403
from .data import *  # noqa: E402,F401,F403
from .sampler import *  # noqa: E402,F401,F403
from .encoding import *  # noqa: E402,F401,F403
from .model import *  # noqa: E402,F401,F403
from .training import *  # noqa: E402,F401,F403
from .runs import *  # noqa: E402,F401,F403
from .user_input import *  # noqa: E402,F401,F403
