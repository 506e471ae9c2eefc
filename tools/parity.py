"""What small runs of both tasks compute, through their notebooks (papermill, small parameters, fp32), written to
one JSON without timings, provenance or folders: run before and after a change that must not move any number, on one
machine, and compare the two files (`cmp`). python tools/parity.py OUT.json"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = {  # notebook, its parameters
    "primary-default": ("neural_network_on_steroids", {"epochs": 2, "train_size": 2000}),
    "primary-symadder-robust": ("neural_network_on_steroids", {"epochs": 2, "train_size": 2000, "head": "symadder",
                                                               "augment": "robust", "holdout": 30}),
    "addition-exact-n2": ("mnist_addition", {"digits": 2, "epochs": 2, "train_pairs": 1000}),
    "addition-learned-n1": ("mnist_addition", {"digits": 1, "epochs": 2, "train_pairs": 1000, "method": "learned",
                                               "balance": 1.0, "cell_init": 1.0}),
    "addition-exact-classic-n1": ("mnist_addition", {"digits": 1, "epochs": 2, "train_pairs": 1000,
                                                     "perception": "classic"}),  # the one perception with dropout
    "primary-strong-like": ("neural_network_on_steroids", {"epochs": 2, "train_size": 2000, "backbone": "mid",
                                                           "label_smoothing": 0.25, "recalibrate_bn": True,
                                                           "encoding": "softmax"}),
    "addition-exact-n2-relabel-restart": ("mnist_addition", {"digits": 2, "epochs": 2, "train_pairs": 500,
                                                               "restarts": 1, "restart_epoch": 1, "restart_loss": 0.0,
                                                               "relabel_epochs": 1, "relabel_perception": "bn"}),
}
TIMINGS = {"seconds", "train_seconds", "versions", "output_dir", "image_dir"}  # and the temporary folders


def strip(value):
    """Everything a run computed: timings and provenance left out, at any depth."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


if __name__ == "__main__":
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (notebook, params) in RUNS.items():
            folder = Path(tmp) / name
            folder.mkdir()
            params = {**params, "precision": "fp32", "device": "cpu", "output_dir": str(folder),
                      **({"image_dir": str(folder / "images"), "min_joint_acc": 0} if notebook.startswith("neural") else {})}
            done = subprocess.run(["papermill", "-k", "python3", str(ROOT / "notebooks" / f"{notebook}.ipynb"),
                                   str(folder / "run.ipynb"), *[a for k, v in params.items() for a in ("-p", k, str(v))]],
                                  cwd=ROOT, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"{name}: papermill failed\n{done.stderr[-3000:]}")
            metrics = json.loads((folder / "metrics.json").read_text())
            out[name] = strip(metrics)
            print(name, metrics["final"], flush=True)
    Path(sys.argv[1]).write_text(json.dumps(out, indent=1, sort_keys=True))
