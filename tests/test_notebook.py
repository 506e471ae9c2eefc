"""The primary notebook, run headless by papermill with small parameters (nbval runs it with the defaults)."""
import json
import subprocess
import sys

import papermill as pm
import pytest
import torch

from helpers.core.paths import NOTEBOOK
from helpers.digit_and_sum.checkpoints import load_checkpoint
from helpers.digit_and_sum.evaluation import ACCURACIES

from conftest import ROOT

pytestmark = pytest.mark.slow  # trains, executes notebooks or starts servers: not in the quick loop

SMALL = dict(epochs=1, train_size=2000, log_interval=5, min_joint_acc=0.0)


def run_notebook(tmp_path, **params):
    pm.execute_notebook(str(NOTEBOOK), str(tmp_path / "executed.ipynb"), parameters=params,
                        kernel_name="python3", cwd=str(ROOT), progress_bar=False)


def test_smoke_run_writes_metrics_model_and_figures_and_shows_the_model_it_trains(tmp_path):
    """With the head that learns addition (not the default): the model chapter prints and draws the network that fit
    then trains, the one its checkpoint holds (nbval checks the default's printout against the committed notebook)."""
    run_notebook(tmp_path, **SMALL, head="symadder", output_dir=str(tmp_path / "run"), image_dir=str(tmp_path / "images"))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    executed = json.loads((tmp_path / "executed.ipynb").read_text())
    printed = next("".join(o.get("text", "")) for c in executed["cells"] if c["cell_type"] == "code"
                   and "print(model)" in "".join(c["source"]) for o in c["outputs"])
    trained = load_checkpoint(tmp_path / "run" / "model.pt")
    assert printed.startswith(str(trained)) and "SymmetricAdderHead" in printed
    assert {"params", "versions", "history", "final", "train_seconds"} <= set(metrics)
    assert metrics["params"]["epochs"] == 1 and metrics["params"]["train_size"] == 2000
    assert metrics["versions"]["torch"] == torch.__version__
    (epoch,) = metrics["history"]
    assert {"epoch", "train_loss", "test_loss", "digit_acc", "sum_acc", "joint_acc", "seconds"} <= set(epoch)
    assert "validation_loss" not in epoch  # the loss is named by the split it was measured on
    assert all(0 <= metrics["final"][k] <= 1 for k in ACCURACIES)
    assert metrics["final"]["digit_acc"] > 0.5  # 2000 images for one epoch already learn digits
    assert metrics["train_seconds"] == pytest.approx(epoch["seconds"])
    assert (trained.backbone_name, trained.head_name) == (metrics["params"]["backbone"], "symadder")
    figures = {p.name for p in (tmp_path / "images").iterdir()}
    assert figures == {f"{n}.png" for n in ("architecture", "train_loss", "test_metrics", "predictions", "mistakes", "exhaustive")}
    assert metrics["exhaustive"]["pairs"] == 100_000 and 0 <= metrics["exhaustive"]["joint_acc"] <= 1
    # The loop on the notebook's page is `fit`'s: the same settings train the same weights and record the same numbers,
    # bit for bit on one machine. fit runs in a fresh process, as the kernel does, with the same environment: nothing
    # this long test process changed (threads, library state) reaches either.
    settings = {**SMALL, "head": "symadder", "output_dir": str(tmp_path / "fit")}
    subprocess.run([sys.executable, "-c", "from helpers.core.mnist import prepare_data\n"
                    "from helpers.digit_and_sum.runs import Config, fit\n"
                    f"fit(Config(**{settings!r}), prepare_data(train_size=2000), log=lambda line: None)"],
                   cwd=ROOT, check=True)
    assert recorded(json.loads((tmp_path / "fit" / "metrics.json").read_text())) == recorded(metrics)
    fitted = load_checkpoint(tmp_path / "fit" / "model.pt")
    assert all(torch.equal(a, b) for a, b in zip(fitted.state_dict().values(), trained.state_dict().values()))


def recorded(metrics: dict) -> tuple:
    """What a run computed, timings aside: per-epoch numbers, logged losses, the exhaustive evaluation."""
    return ([{k: v for k, v in h.items() if k != "seconds"} for h in metrics["history"]], metrics["train_log"],
            metrics["exhaustive"])


def test_a_bad_parameter_fails_with_a_clear_message(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="backbone must be one of"):
        run_notebook(tmp_path, backbone="resnet", output_dir=str(tmp_path / "run"), image_dir=None)
