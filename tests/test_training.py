"""Seeded training repeats exactly; an interrupted run resumes to the same result; checkpoints are safe."""
import os
import pickle

import pytest
import torch

from helpers.core import checkpoints as core_checkpoints
from helpers.core.checkpoints import read_checkpoint
from helpers.core.files import atomic_write
from helpers.digit_and_sum.model import CHECKPOINT_FORMAT, export_model, load_checkpoint
from helpers.digit_and_sum.evaluation import eval_numbers
from helpers.digit_and_sum.inference import predict
from helpers.digit_and_sum.model import Net
from helpers.digit_and_sum.train import fit, recalibrate_batch_norm

from conftest import Interrupt, interrupt_at, outcome, params


@pytest.mark.slow
def test_the_same_seed_gives_identical_losses_and_accuracies(tmp_path, small):
    """Bit for bit within one process (one machine, one build): what PyTorch promises; across CPUs see tests/README.md."""
    run = fit(params(tmp_path / "a"), small, log=lambda line: None)
    assert run["metrics"]["task"] == read_checkpoint(tmp_path / "a" / "model.pt", CHECKPOINT_FORMAT)["task"] == "digit_and_sum"
    first = outcome(run)
    second = outcome(fit(params(tmp_path / "b"), small, log=lambda line: None))
    other = outcome(fit(params(tmp_path / "c", seed=2), small, log=lambda line: None))
    assert first == second
    assert first != other


@pytest.mark.slow
def test_label_smoothing_trains_a_different_model_and_a_resume_must_match_it(tmp_path, small):
    plain = outcome(fit(params(tmp_path / "a", epochs=1), small, log=lambda line: None))
    smoothed = fit(params(tmp_path / "b", epochs=1, label_smoothing=0.15), small, log=lambda line: None)
    assert smoothed["metrics"]["params"]["label_smoothing"] == 0.15
    assert outcome(smoothed) != plain
    with pytest.raises(ValueError, match="trained with other label_smoothing="):
        fit(params(tmp_path / "b", epochs=1, resume=True), small, log=lambda line: None)


def test_batch_norm_recalibration_sets_the_clean_images_statistics_and_nothing_else():
    torch.manual_seed(0)
    model, images = Net(backbone="mid").train(), torch.randn(2000, 1, 28, 28) * 0.5 + 0.3
    weights = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_batches" not in k}
    recalibrate_batch_norm(model, images)
    first_norm = model.backbone[2]
    with torch.no_grad():
        pooled = model.backbone[:2](images.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(first_norm.running_mean, pooled.mean((0, 2, 3)), atol=1e-5)  # two equal batches: exact
    assert torch.allclose(first_norm.running_var, pooled.var((0, 2, 3)), rtol=1e-3)  # unbiased within each batch
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())
    assert first_norm.momentum == 0.1 and not model.training


@pytest.mark.slow
def test_recalibrate_bn_changes_only_the_last_evaluation(tmp_path, small):
    plain = fit(params(tmp_path / "a", backbone="mid"), small, log=lambda line: None)["metrics"]
    recal = fit(params(tmp_path / "b", backbone="mid", recalibrate_bn=True), small, log=lambda line: None)["metrics"]
    assert [h["train_loss"] for h in plain["history"]] == [h["train_loss"] for h in recal["history"]]
    assert outcome({"metrics": plain})[0][:-1] == outcome({"metrics": recal})[0][:-1]
    assert plain["history"][-1]["test_loss"] != recal["history"][-1]["test_loss"]  # named by the split


@pytest.mark.slow
@pytest.mark.parametrize("done", [1, 2])
def test_resume_after_an_interruption_finishes_exactly_like_an_uninterrupted_run(tmp_path, small, done):
    full = outcome(fit(params(tmp_path / "full"), small, log=lambda line: None))
    with pytest.raises(Interrupt):
        fit(params(tmp_path / "cut"), small, log=interrupt_at(done + 1))
    assert read_checkpoint(tmp_path / "cut" / "model.pt", CHECKPOINT_FORMAT)["epoch"] == done
    lines = []
    resumed = fit(params(tmp_path / "cut", resume=True), small, log=lines.append)
    assert lines[0].startswith("Resumed from") and f"after epoch {done}" in lines[0]
    assert outcome(resumed) == full


@pytest.mark.slow
def test_resume_refuses_a_checkpoint_trained_with_other_parameters(tmp_path, small):
    fit(params(tmp_path, epochs=1), small, log=lambda line: None)
    with pytest.raises(ValueError, match="trained with other lr="):
        fit(params(tmp_path, epochs=1, lr=0.5, resume=True), small, log=lambda line: None)


@pytest.mark.slow
def test_checkpoint_is_written_atomically_every_epoch(tmp_path, small, monkeypatch):
    written = []
    real = atomic_write
    monkeypatch.setattr(core_checkpoints, "atomic_write", lambda path, write: (written.append(path.name), real(path, write)))
    fit(params(tmp_path), small, log=lambda line: None)
    assert written.count("model.pt") == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "model.pt"]  # no temp file left


def test_an_interrupted_atomic_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "model.pt"
    target.write_text("old")

    def half_written(tmp):
        tmp.write_text("ne")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half_written)
    assert target.read_text() == "old"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, small):
    """A checkpoint as fit writes it (one epoch of 600 images: the file's checks need no more training); it must load
    with weights_only."""
    config = params(tmp_path_factory.mktemp("run"), epochs=1)
    fit(config, small, log=lambda line: None)
    return config.output_path / "model.pt"


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nothing.pt")


def test_truncated_checkpoint(tmp_path, checkpoint):
    (tmp_path / "cut.pt").write_bytes(checkpoint.read_bytes()[:3000])
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")


def test_foreign_checkpoint(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a checkpoint of this project"):
        load_checkpoint(tmp_path / "other.pt")


class RunsCode:
    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_a_checkpoint_can_never_run_code(tmp_path):
    payload = RunsCode()
    payload.path = str(tmp_path / "pwned")
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"format": CHECKPOINT_FORMAT, "x": payload}, f, protocol=2)
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


def test_mismatched_checkpoint(tmp_path, checkpoint):
    state = read_checkpoint(checkpoint, CHECKPOINT_FORMAT)
    state["backbone"] = "classic"
    torch.save(state, tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match="does not match the 'classic' network"):
        load_checkpoint(tmp_path / "mismatch.pt")


def test_exported_model_is_small_and_predicts_like_the_checkpoint(tmp_path, checkpoint, small):
    path = export_model(checkpoint, tmp_path / "slim.pt")
    assert path.stat().st_size < checkpoint.stat().st_size / 2
    full, slim = load_checkpoint(checkpoint), load_checkpoint(path)
    images, numbers = small.eval_images[:50], eval_numbers(50)
    assert all(torch.equal(a, b) for a, b in zip(predict(full, images, numbers), predict(slim, images, numbers)))


def test_a_checkpoint_records_the_run_it_came_from(checkpoint):
    state = read_checkpoint(checkpoint, CHECKPOINT_FORMAT)
    recorded = state["versions"]
    assert recorded["torch"] == torch.__version__ and set(recorded["code"]) == {"commit", "dirty"}
    assert state["task"] == "digit_and_sum"  # which task wrote it
