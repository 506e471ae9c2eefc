"""The primary notebook, run headless by papermill with small parameters (nbval runs it with the defaults)."""
import json

import papermill as pm
import pytest
import torch

import helpers
from conftest import ROOT

pytestmark = pytest.mark.slow  # trains, executes notebooks or starts servers: not in the quick loop

SMALL = dict(epochs=1, train_size=2000, log_interval=5, min_joint_acc=0.0)


def run_notebook(tmp_path, **params):
    pm.execute_notebook(str(helpers.NOTEBOOK), str(tmp_path / "executed.ipynb"), parameters=params,
                        kernel_name="python3", cwd=str(ROOT), progress_bar=False)


def test_smoke_run_writes_metrics_model_and_figures(tmp_path):
    run_notebook(tmp_path, **SMALL, output_dir=str(tmp_path / "run"), image_dir=str(tmp_path / "images"))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert {"params", "versions", "history", "final", "train_seconds"} <= set(metrics)
    assert metrics["params"]["epochs"] == 1 and metrics["params"]["train_size"] == 2000
    assert metrics["versions"]["torch"] == torch.__version__
    (epoch,) = metrics["history"]
    assert {"epoch", "train_loss", "test_loss", "digit_acc", "sum_acc", "joint_acc", "seconds"} <= set(epoch)
    assert "validation_loss" not in epoch  # the loss is named by the split it was measured on
    assert all(0 <= metrics["final"][k] <= 1 for k in helpers.ACCURACIES)
    assert metrics["final"]["digit_acc"] > 0.5  # 2000 images for one epoch already learn digits
    assert metrics["train_seconds"] == pytest.approx(epoch["seconds"])
    assert helpers.load_checkpoint(tmp_path / "run" / "model.pt").backbone_name == metrics["params"]["backbone"]
    figures = {p.name for p in (tmp_path / "images").iterdir()}
    assert figures == {f"{n}.png" for n in ("architecture", "train_loss", "test_metrics", "predictions", "mistakes", "exhaustive")}
    assert metrics["exhaustive"]["pairs"] == 100_000 and 0 <= metrics["exhaustive"]["joint_acc"] <= 1


def test_a_bad_parameter_fails_with_a_clear_message(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="backbone must be one of"):
        run_notebook(tmp_path, backbone="resnet", output_dir=str(tmp_path / "run"), image_dir=None)
