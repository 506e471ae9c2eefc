"""Named configurations: overrides of the notebook's defaults that the scripts share (one place, no script imports
another). `CONFIGS` are the benchmark's and the README's headline rows; `SWEEPS` every configuration that
`sweep.py` runs over seeds into `results/`."""
from __future__ import annotations

from .training import FIXED_HOLDOUT
from .model import HEADS

CONFIGS = {
    "default": {},
    # the default's backbone in 5 epochs of batch 512, in bf16 (chosen on the validation split, docs/speed.md)
    "fast": {"epochs": 5, "batch_size": 512, "lr": 0.03, "precision": "bf16"},
    # `mid` (wide's layout, half its channels) for 16 epochs of batch 512, in bf16, with label smoothing 0.25 and
    # batch norm's statistics re-estimated on the clean images at the end (chosen on the validation split, docs/speed.md)
    "strong": {"backbone": "mid", "epochs": 16, "batch_size": 512, "lr": 0.03, "precision": "bf16", "label_smoothing": 0.25,
               "recalibrate_bn": True},
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
    "strong": CONFIGS["strong"],
    "adds": CONFIGS["adds"],
}
# Does it learn addition? k of the 100 pairs held out, drawn by seed: each head (binary code, number bits) ...
CURVE_COUNTS = (0, 10, 30, 50, 70, 81)
SWEEPS |= {f"{head}-k{k}": {"head": head, "holdout": k} for head in HEADS for k in CURVE_COUNTS}
# ... each other output encoding (the mlp head) ...
HOLDOUT_COUNTS = (10, 30, 50, 70)
SWEEPS |= {f"{encoding}-k{k}": {"encoding": encoding, "holdout": k} for encoding in ("onehot", "softmax") for k in HOLDOUT_COUNTS}
# ... and for the number's input code, with the binary output (bits: the mlp-k runs above).
SWEEPS |= {f"input-{code}-k{k}": {"number_input": code, "holdout": k} for code in ("onehot", "scalar") for k in (10, 50)}

__all__ = ["CONFIGS", "SWEEPS", "CURVE_COUNTS", "HOLDOUT_COUNTS"]
