"""The package the notebooks and scripts import: shared plumbing at the bottom, each line of work in a folder of its
own above it. Each folder imports only its own modules and the rungs below it (tests/test_layout.py holds this):

    helpers/
      core/            what both tasks stand on, knowing no task: paths, device and precision, MNIST on disk and
                       in memory (one validation split), the CNN backbones, the affine augmentation and image shifts,
                       typed settings, seeded epochs and the optimizer step, checkpoints, provenance, statistics
      digit_and_sum/   the primary task (notebooks/neural_network_on_steroids.ipynb): an image and a number 0-9 in,
                       the digit and the sum out; the sampler, encoding, heads, model, training loop, evaluation,
                       predict(), the named configurations and the committed results
      mnist_addition/  the MNIST-addition benchmark (notebooks/mnist_addition.ipynb): two N-digit numbers as
                       images, their sum out, trained from sums alone; the pairs, perceptions and methods, its
                       own training loop (restarts, curricula), the published table
      studies/         the studies: of the primary task, the held-out pairs (curve, fresh draws, results/summary.md)
                       and the robustness benchmark's results; of both tasks, the named sweeps of `sweep.py --study`
      notebook/        what the notebooks show: figures of each line of work, the explorer and the drawing pad

Import what you use from where it lives: `from helpers.digit_and_sum.runs import Config, fit`.
"""
from . import core, digit_and_sum, mnist_addition, notebook, studies  # noqa: F401
