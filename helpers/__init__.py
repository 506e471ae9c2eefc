"""Reusable code for the Neural Network on Steroids notebooks. The chapters, in the primary notebook's order:

    data        MNIST from disk (or a download) into normalized tensors, a validation split
    sampler     RandomSampler: the numbers 0..9 for each batch, as 4 bits
    encoding    the 9-bit output code (and the ablation's one-hot and softmax codes), the loss, decoding
    model       Net: a CNN backbone -> 320 features; with the number -> a head -> the output logits
    heads       the heads: the original's MLP, and those built for addition (the learned full adder)
    training    one seeded epoch, the (digit, number) pairs held out of it, batch-norm recalibration
    evaluation  logits on the model's device, accuracies, every image with every number
    inference   predict() on a user's images and numbers, confidence, image files read as MNIST

and what they stand on or what uses them:

    paths       the repository's own folders (a leaf: it imports nothing of the package)
    device      where a run computes (CPU, CUDA, MPS, ...) and in which precision (fp32, bf16)
    augment     the random affine change and augment="robust"'s corruptions, drawn on the CPU, moved without a sync
    checkpoints saving, reading safely, exporting and loading models; atomic writes
    runs        a run's settings (Config), fit(), metrics.json with provenance
    configs     the named configurations the scripts share (CONFIGS, SWEEPS)
    results     committed runs read the same way, and the summary tables
    reference   the original's training pipeline, for the speed comparisons

and the MNIST-addition benchmark (notebooks/mnist_addition.ipynb), on the same machinery:

    addition           the benchmark's pairs (DeepProbLog's protocol), the perceptions, the three methods
    addition_training  a run's settings (AdditionConfig), training from the sums alone, evaluation, metrics
    addition_results   the published table, committed runs read back, the summary

`import helpers` gives the public names of all of these (helpers.fit, helpers.Net, ...; `helpers.__all__`).
Submodules used on their own: `helpers.shifts` (image shifts for the robustness benchmark and the robust
augmentation), `helpers.figures` (the primary notebook's figures), `helpers.experiment_figures`,
`helpers.addition_figures`, `helpers.explore` and `helpers.draw` (the notebooks' figures, code display and panels).
"""
from . import paths, device, data, sampler, encoding, heads, model, augment, training, evaluation, checkpoints, runs, inference, \
    configs, results, reference, addition, addition_training, addition_results
from .paths import *  # noqa: F401,F403
from .device import *  # noqa: F401,F403
from .data import *  # noqa: F401,F403
from .sampler import *  # noqa: F401,F403
from .encoding import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .model import *  # noqa: F401,F403
from .augment import *  # noqa: F401,F403
from .training import *  # noqa: F401,F403
from .evaluation import *  # noqa: F401,F403
from .checkpoints import *  # noqa: F401,F403
from .runs import *  # noqa: F401,F403
from .inference import *  # noqa: F401,F403
from .configs import *  # noqa: F401,F403
from .results import *  # noqa: F401,F403
from .reference import *  # noqa: F401,F403
from .addition import *  # noqa: F401,F403
from .addition_training import *  # noqa: F401,F403
from .addition_results import *  # noqa: F401,F403

__all__ = [name for module in (paths, device, data, sampler, encoding, heads, model, augment, training, evaluation, checkpoints,
                               runs, inference, configs, results, reference, addition, addition_training,
                               addition_results)
           for name in module.__all__]
