"""The package the notebooks and scripts import: shared plumbing at the bottom, each line of work in a folder of its
own above it. Each folder imports only its own modules and the rungs below it (tests/test_layout.py holds this):

    helpers/
      core/            what both tasks stand on, knowing no task: paths, device and precision, MNIST on disk and
                       in memory (one validation split), the CNN backbones, the affine augmentation and image shifts,
                       the settings both tasks share, seeded epochs and AdamW, starting a run, metrics.json and
                       checkpoints, provenance, statistics
      digit_and_sum/   the primary task (notebooks/neural_network_on_steroids.ipynb): an image and a number 0-9 in,
                       the digit and the sum out
      mnist_addition/  the MNIST-addition benchmark (notebooks/mnist_addition.ipynb): two N-digit numbers as
                       images, their sum out, trained from sums alone
      studies/         what spans runs: the two tasks as sweep.py runs them, the named sweeps over seeds
                       (`sweep.py --study`), the held-out pairs study and the robustness benchmark's results
      figures/         what the notebooks show: figures of each line of work, the explorer and the drawing pad

Both task folders have one shape: `settings.py` (the task's settings on the core's), `recipes.py` (every named
recipe, one table), `train.py` (its `fit` and its epoch loop, top to bottom), `results.py` (its runs read back and
its summary), beside what is the task's own (the sampler, encoding and heads; the program, pairs and lengths).

Import what you use from where it lives: `from helpers.digit_and_sum.train import fit`.
"""
from . import core, digit_and_sum, figures, mnist_addition, studies  # noqa: F401
