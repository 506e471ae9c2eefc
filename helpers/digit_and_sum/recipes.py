"""The primary task's named recipes: overrides of the notebook's defaults, one name each, in one table (`RECIPES`),
which `benchmark.py` times against the original's pipeline and `sweep.py` runs over seeds into `results/`."""
from __future__ import annotations

from .pairs import FIXED_HOLDOUT

# The digit reader: `mid` (wide's layout, half its channels) and the two softmax heads (cross-entropy on the digit and
# on the sum) with label smoothing 0.1, 30 epochs of batch 512 in bf16 where native (else fp32): the digit reader's
# search on the validation split (tools/reader_search.py, docs/speed.md) found no backbone above `mid` at 30 epochs in
# its time (99.64 % on seeds 401 and 402)
READER = {"backbone": "mid", "encoding": "softmax", "epochs": 30, "batch_size": 512, "lr": 0.01,
          "label_smoothing": 0.1, "precision": "bf16|fp32"}
RECIPES = {
    "default": {},  # the notebook's defaults: the original's 9-bit code with BCE
    "onehot": {"encoding": "onehot"},
    "softmax": {"encoding": "softmax"},
    "binary-holdout": {"holdout": FIXED_HOLDOUT},  # the fixed 10 pairs (d, 3d + 7 mod 10)
    "onehot-holdout": {"encoding": "onehot", "holdout": FIXED_HOLDOUT},
    "softmax-holdout": {"encoding": "softmax", "holdout": FIXED_HOLDOUT},
    "wide": {"backbone": "wide", "precision": "fp32"},  # a stronger backbone, same head and 9-bit code
    "mid": {"backbone": "mid"},  # strong's backbone with the defaults: its precision default
    "classic": {"backbone": "classic"},  # the original's CNN with the defaults: its precision default
    # the default's backbone and the head that adds (symadder) in 3 epochs of batch 512 at lr 0.05, in bf16 where the
    # device computes it natively, else fp32 (chosen on the validation split, docs/speed.md; it replaced 5 epochs of
    # the default's head at lr 0.03)
    "fast": {"head": "symadder", "epochs": 3, "batch_size": 512, "lr": 0.05, "precision": "bf16|fp32"},
    # the reader's recipe in 14 epochs, about the reference's time (chosen on the validation split, docs/speed.md; it
    # replaced the symadder head with 16 epochs, label smoothing 0.25 and batch norm recalibrated, 99.48 % joint)
    "strong": {**READER, "epochs": 14},
    # the head that learns addition (a learned full adder, shared by the bit positions and symmetric in its three
    # inputs; chosen on the validation split, docs/addition.md), the notebook's other defaults
    "adds": {"head": "symadder"},
    "reader": READER,
    "robust": {"augment": "robust"},  # corrupted digits and "don't know" (docs/robustness.md), the default backbone
    "robust-wide": {"backbone": "wide", "augment": "robust", "centre_input": True},  # the shipped robust model's recipe
}
# Does it learn addition? k of the 100 pairs held out, drawn by seed: each head (binary code, number bits) ...
CURVE_COUNTS = (0, 10, 30, 50, 70, 81)
CURVE_HEADS = ("mlp", "line", "adder", "symadder")


def curve_name(head: str, k: int) -> str:
    """The one name of the held-out curve's point (head, k): `default` and `adds` at k = 0, else "<head>-k<k>"."""
    return {("mlp", 0): "default", ("symadder", 0): "adds"}.get((head, k), f"{head}-k{k}")


RECIPES |= {curve_name(head, k): {"head": head, "holdout": k} for head in CURVE_HEADS for k in CURVE_COUNTS
           if curve_name(head, k) not in RECIPES}
# ... and symadder's ablations at k = 81: the sum's loss reaching the digit bits, a cell per position, no cell at all.
ABLATIONS = ("symadder-attached", "symadder-unshared", "digitbits-mlp")
RECIPES |= {f"{head}-k81": {"head": head, "holdout": 81} for head in ABLATIONS}
# ... each other output encoding (the mlp head) ...
HOLDOUT_COUNTS = (10, 30, 50, 70)
RECIPES |= {f"{encoding}-k{k}": {"encoding": encoding, "holdout": k} for encoding in ("onehot", "softmax") for k in HOLDOUT_COUNTS}
# ... and for the number's input code, with the binary output (bits: the mlp curve above).
RECIPES |= {f"input-{code}-k{k}": {"number_input": code, "holdout": k} for code in ("onehot", "scalar") for k in (10, 50)}


__all__ = ["RECIPES", "curve_name", "CURVE_COUNTS", "CURVE_HEADS", "HOLDOUT_COUNTS", "ABLATIONS"]
