"""Named configurations: overrides of the notebook's defaults that the scripts share (one place, no script imports
another). `CONFIGS` are the benchmark's and the README's headline rows; `SWEEPS` every configuration that
`sweep.py` runs over seeds into `results/`."""
from __future__ import annotations

from .training import FIXED_HOLDOUT
from .heads import HEADS

CONFIGS = {
    "default": {},
    # the default's backbone and the head that adds (symadder) in 3 epochs of batch 512 at lr 0.05, in bf16 where the
    # device computes it natively, else fp32 (chosen on the validation split, docs/speed.md; it replaced 5 epochs of
    # the default's head at lr 0.03)
    "fast": {"head": "symadder", "epochs": 3, "batch_size": 512, "lr": 0.05, "precision": "bf16|fp32"},
    # `mid` (wide's layout, half its channels) and the head that adds (symadder) for 16 epochs of batch 512, in bf16
    # where native (else fp32), with label smoothing 0.25 and batch norm's statistics re-estimated on the clean images
    # at the end (chosen on the validation split, docs/speed.md: symadder 99.46 +- 0.04 % joint against the mlp
    # head's 99.36 +- 0.03 %, seeds 1-3)
    "strong": {"backbone": "mid", "head": "symadder", "epochs": 16, "batch_size": 512, "lr": 0.03,
               "precision": "bf16|fp32", "label_smoothing": 0.25, "recalibrate_bn": True},
    # the head that learns addition (a learned full adder, shared by the bit positions and symmetric in its three
    # inputs; chosen on the validation split, docs/addition.md), the notebook's other defaults
    "adds": {"head": "symadder"},
}

SWEEPS = {
    "binary": {},  # the notebook's defaults: the original's 9-bit code with BCE
    "onehot": {"encoding": "onehot"},
    "softmax": {"encoding": "softmax"},
    "binary-holdout": {"holdout": FIXED_HOLDOUT},  # the fixed 10 pairs (d, 3d + 7 mod 10)
    "onehot-holdout": {"encoding": "onehot", "holdout": FIXED_HOLDOUT},
    "softmax-holdout": {"encoding": "softmax", "holdout": FIXED_HOLDOUT},
    "wide": {"backbone": "wide", "precision": "fp32"},  # a stronger backbone, same head and 9-bit code
    "mid": {"backbone": "mid"},  # strong's backbone with the defaults: its precision default
    "classic": {"backbone": "classic"},  # the original's CNN with the defaults: its precision default
    "fast": CONFIGS["fast"],
    "strong": CONFIGS["strong"],
    "adds": CONFIGS["adds"],
    "robust": {"augment": "robust"},  # corrupted digits and "don't know" (docs/robustness.md), the default backbone
    "robust-wide": {"backbone": "wide", "augment": "robust", "centre_input": True},  # the shipped robust model's recipe
}
# Does it learn addition? k of the 100 pairs held out, drawn by seed: each head (binary code, number bits) ...
CURVE_COUNTS = (0, 10, 30, 50, 70, 81)
CURVE_HEADS = ("mlp", "line", "adder", "symadder")
SWEEPS |= {f"{head}-k{k}": {"head": head, "holdout": k} for head in CURVE_HEADS for k in CURVE_COUNTS}
# ... and symadder's ablations at k = 81: the sum's loss reaching the digit bits, a cell per position, no cell at all.
ABLATIONS = ("symadder-attached", "symadder-unshared", "digitbits-mlp")
SWEEPS |= {f"{head}-k81": {"head": head, "holdout": 81} for head in ABLATIONS}
# ... each other output encoding (the mlp head) ...
HOLDOUT_COUNTS = (10, 30, 50, 70)
SWEEPS |= {f"{encoding}-k{k}": {"encoding": encoding, "holdout": k} for encoding in ("onehot", "softmax") for k in HOLDOUT_COUNTS}
# ... and for the number's input code, with the binary output (bits: the mlp-k runs above).
SWEEPS |= {f"input-{code}-k{k}": {"number_input": code, "holdout": k} for code in ("onehot", "scalar") for k in (10, 50)}

# MNIST addition (notebooks/mnist_addition.ipynb): every method x perception x N of the benchmark, `add-<method>-<
# perception>-n<N>`, with each perception's schedule (chosen on the validation split, docs/mnist_addition.md). At
# N = 100 every two adjacent sum digits first, the whole sum from epoch 6 (exact, mid on validation: without a
# curriculum 0 % on seed 1, every digit read as a neighbour; the lowest digits first learned on 1 seed of 3 and on 1
# test seed of 5, adjacent digits on 2 of 4, finding the digits in epoch 1 when it does). At N >= 15 a run whose
# training loss shows it found no digits starts again, up to 3 times (`restarts`, exact: mid at N = 15 found none on
# test seeds 7 and 8 of 1-10). At N = 100, where 7 of 29 attempts found the digits on test seeds 6-15 (3 of those 10
# runs spent all 4 attempts), up to 20 times, read after epoch 1 (where the loss tells the two apart: an abandoned
# attempt costs 1 epoch, about 9 s).
ADDITION_DIGITS = (1, 2, 4, 15, 100)
ADDITION_RECIPES = {"lenet": {"epochs": 30, "lr": 0.01}, "bn": {"epochs": 20, "lr": 0.01}, "mid": {"epochs": 20, "lr": 0.01}}
ADDITION_RESTARTS = {15: {"restarts": 3}, 100: {"restarts": 20, "restart_epoch": 1}}  # exact's, by N
# learned's start, prior and restarts (validation, docs/mnist_addition.md). N = 1, seed 1: a uniform table 38.8 %, a
# random one (cell_init 1.0) 58.7 %, and with `balance` 0.1 81.6 %, 1.0 99.2 %. With balance 1.0, 5 of 6 runs (N = 1,
# 2, seeds 1-3) reached 97.9-99.2 %; the sixth (N = 2) settled at 67.2 %, and its training loss per sum digit over
# epoch 8's last quarter was 0.32 against 0.08-0.16 in the five: such a run starts again, at most twice.
ADDITION_METHOD_RECIPES = {"learned": {"cell_init": 1.0, "balance": 1.0, "restarts": 2, "restart_epoch": 8,
                                       "restart_loss": 0.25}}
ADDITION_SWEEPS = {f"add-{method}-{perception}-n{n}": {"digits": n, "method": method, "perception": perception,
                                                       **recipe, **ADDITION_METHOD_RECIPES.get(method, {}),
                                                       **(ADDITION_RESTARTS.get(n, {}) if method == "exact" else {}),
                                                       **({"adjacent_first": 6} if n == 100 else {})}
                   for method in ("exact", "learned", "neural") for perception, recipe in ADDITION_RECIPES.items()
                   for n in ADDITION_DIGITS}

# Named sweeps: which configurations, over which seeds, into which folder (relative to the repository), so that a
# study is one command: `python sweep.py --study NAME`. The fresh draws were run once, after the design of the
# heads was frozen (docs/addition.md): seeds 101-120 had played no part in it.
STUDIES = {
    # the sweep's rows of results/summary.md that the README names (the README's fast and adds rows come from
    # benchmark.py, results/benchmark; robust and robust-wide from robustness.py, results/robustness)
    "headline": {"configs": ["binary", "strong"], "seeds": [1, 2, 3], "results": "results"},
    "curve": {"configs": [f"{head}-k{k}" for head in CURVE_HEADS for k in CURVE_COUNTS], "seeds": [1, 2, 3],
              "results": "results"},
    "fresh-draws": {"configs": [f"{head}-k{k}" for head in ("adder", "symadder") for k in (70, 81)],
                    "seeds": list(range(101, 121)), "results": "results/fresh"},
    "ablations": {"configs": [f"{head}-k81" for head in ABLATIONS], "seeds": list(range(101, 111)),
                  "results": "results/fresh"},
    # the benchmark's protocol, 5 seeds for N <= 4 and 10 for N >= 15, each study the runs of results/mnist_addition
    # as they ran (`params`: settings a study sets over its configurations'); where a recipe changed after its first
    # test runs, the new recipe ran on fresh seeds and the earlier runs stay beside them (docs/mnist_addition.md)
    "addition-short": {"configs": [*(f"add-exact-mid-n{n}" for n in (1, 2, 4)), "add-exact-lenet-n4",
                                   *(f"add-exact-bn-n{n}" for n in (1, 4)), *(f"add-neural-mid-n{n}" for n in (1, 2, 4))],
                       "seeds": list(range(1, 6)), "results": "results/mnist_addition"},
    "addition-learned": {"configs": [f"add-learned-mid-n{n}" for n in (1, 2)], "seeds": list(range(6, 11)),
                         "results": "results/mnist_addition"},
    "addition-n15": {"configs": ["add-exact-mid-n15"], "seeds": list(range(11, 21)), "results": "results/mnist_addition"},
    "addition-n15-lenet": {"configs": ["add-exact-lenet-n15"], "seeds": list(range(1, 11)), "params": {"restarts": 0},
                           "results": "results/mnist_addition"},
    "addition-n100": {"configs": ["add-exact-mid-n100"], "seeds": list(range(16, 26)), "results": "results/mnist_addition"},
}

__all__ = ["CONFIGS", "SWEEPS", "CURVE_COUNTS", "CURVE_HEADS", "HOLDOUT_COUNTS", "ABLATIONS", "ADDITION_DIGITS",
           "ADDITION_RESTARTS", "ADDITION_METHOD_RECIPES",
           "ADDITION_RECIPES", "ADDITION_SWEEPS", "STUDIES"]
