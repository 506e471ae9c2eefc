"""The primary notebook, run headless by papermill with small parameters (nbval runs it with the defaults)."""
import json

import papermill as pm
import pytest
import torch

from helpers.core.paths import NOTEBOOK
from helpers.digit_and_sum.model import load_checkpoint
from helpers.digit_and_sum.evaluation import ACCURACIES

from conftest import ROOT

SMALL = dict(epochs=1, train_size=2000, eval_size=500, log_interval=5, min_joint_acc=0.0)


def run_notebook(tmp_path, **params):
    pm.execute_notebook(str(NOTEBOOK), str(tmp_path / "executed.ipynb"), parameters=params,
                        kernel_name="python3", cwd=str(ROOT), progress_bar=False)


@pytest.mark.slow
def test_smoke_run_writes_metrics_model_and_figures_and_shows_the_model_it_trains(tmp_path):
    """With the head that learns addition (not the default): the model chapter prints and draws the network that fit
    then trains, the one its checkpoint holds (nbval checks the default's printout against the committed notebook);
    the training chapter shows the code of the epoch it runs and prints the original design's log."""
    run_notebook(tmp_path, **SMALL, head="symadder", output_dir=str(tmp_path / "run"), image_dir=str(tmp_path / "images"))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    executed = json.loads((tmp_path / "executed.ipynb").read_text())
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    printed = next("".join(o.get("text", "")) for c in code if "print(model)" in "".join(c["source"]) for o in c["outputs"])
    trained = load_checkpoint(tmp_path / "run" / "model.pt")
    assert printed.startswith(str(trained)) and "SymmetricAdderHead" in printed
    shown = next(c for c in code if "show_code(train_epoch)" in "".join(c["source"]))
    page = json.dumps(shown["outputs"])
    for call in ("getRandomBatch()", "binary_cross_entropy_with_logits", "zero_grad", "backward()", "optimizer.step()"):
        assert call in page, call  # the epoch's code, on the page
    log = "".join("".join(o.get("text", "")) for c in code if "fit(config, data)" in "".join(c["source"])
                  for o in c["outputs"] if o.get("name") == "stdout")
    assert "Train Epoch: 1 [0/2000 (0%)]" in log and "Test set: Avg. loss:" in log  # the original design's log
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
    assert metrics["exhaustive"]["pairs"] == 5_000 and 0 <= metrics["exhaustive"]["joint_acc"] <= 1


def test_the_notebook_trains_with_the_packages_epoch_function():
    """No copy of the loop on the page: the training cell calls `fit`, whose epochs are `train_epoch` (the function
    whose code the cell before shows), and the notebook defines no loop of its own."""
    import inspect

    from helpers.digit_and_sum import train
    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    assert any(source.startswith("run = fit(config, data)") for source in cells)
    assert any(source.strip() == "explore.show_code(train_epoch)" for source in cells)
    assert not any("backward()" in source or "for epoch in" in source for source in cells)
    assert "train_epoch(model, data, optimizer, scheduler, epoch, config, log)" in inspect.getsource(train.fit)


@pytest.mark.slow
def test_a_bad_parameter_fails_with_a_clear_message(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="backbone must be one of"):
        run_notebook(tmp_path, backbone="resnet", output_dir=str(tmp_path / "run"), image_dir=None)
