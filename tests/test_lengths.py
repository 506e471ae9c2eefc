"""Length generalization: re-paired test sets deterministic per seed and each image at most once per re-pairing, a
frozen model at another N answering as that N's model would and reading no label to do so, lengths.py end to end, and
the notebook's frozen_at."""
import json

import papermill as pm
import pytest
import torch

import lengths as lengths_script
from helpers.core.checkpoints import read_state, save_state
from helpers.core.paths import ROOT
from helpers.core.stats import welch_p
from helpers.mnist_addition.data import AdditionData, prepare_addition, protocol_pairs
from helpers.mnist_addition.lengths import (evaluate_lengths, image_classes, lengths_summary, load_addition_model,
                                            predicted_sums, repairings)
from helpers.mnist_addition.model import AdditionModel, Ensemble
from helpers.mnist_addition.relabel import relabelled
from helpers.mnist_addition.evaluation import evaluate_addition
from helpers.mnist_addition.training import ADDITION_FORMAT, AdditionConfig, fit_addition


@pytest.mark.parametrize("digits", [4, 100, 500])
def test_repairings_are_deterministic_per_seed_and_use_each_image_once_per_repairing(digits):
    pairs = repairings(10_000, digits, seed=3, min_sums=2000)
    per = 10_000 // (2 * digits)
    assert pairs.shape[1:] == (per, 2, digits) and pairs.shape[0] * per >= 2000 > (pairs.shape[0] - 1) * per
    for repairing in pairs:
        assert len(repairing.unique()) == repairing.numel()  # no image twice in one re-pairing
    assert torch.equal(pairs, repairings(10_000, digits, seed=3, min_sums=2000))
    assert not torch.equal(pairs, repairings(10_000, digits, seed=4, min_sums=2000))
    assert not torch.equal(pairs[0], protocol_pairs(60_000, 10_000, digits, 3)[1])  # apart from the protocol's
    with pytest.raises(ValueError, match="make no pair"):
        repairings(10, 6, seed=1)


def test_protocol_pairs_are_the_pairs_a_run_at_that_n_evaluates_on(mnist):
    for digits in (2, 15):
        data = prepare_addition(digits, seed=5, splits=mnist)
        train, evaluation = protocol_pairs(60_000, 10_000, digits, 5)
        assert torch.equal(evaluation, data.eval_pairs) and torch.equal(train, data.train_pairs)


@pytest.mark.parametrize("method", ["exact", "learned"])
def test_a_frozen_model_at_another_n_answers_as_that_ns_model_and_reads_no_label(mnist, method):
    """A model built for N = 2, asked at N = 4 through its per-image classes, gives exactly the sums of the same
    weights in a model built for N = 4; at N = 2 the sums `evaluate_addition` gives; and scrambling every test label
    changes no prediction (labels only score)."""
    torch.manual_seed(0)
    trained = AdditionModel(2, method, "lenet", cell_init=1.0).eval()
    at_four = AdditionModel(4, method, "lenet", cell_init=1.0).eval()
    at_four.load_state_dict(trained.state_dict())
    data = prepare_addition(4, seed=2, splits=mnist)
    classes = image_classes(trained, data.eval_x)
    pairs = data.eval_pairs[:200]
    _, expected = at_four.predict(data.eval_x[pairs.flatten()].view(*pairs.shape, 1, 28, 28))
    assert torch.equal(predicted_sums(trained, classes, pairs), expected)
    two = prepare_addition(2, seed=2, splits=mnist)
    assert torch.equal(predicted_sums(trained, image_classes(trained, two.eval_x), two.eval_pairs),
                       evaluate_addition(trained, two)["pred_sums"])
    scrambled = AdditionData(**{**vars(data), "eval_digits": torch.randint(0, 10, data.eval_digits.shape)})
    assert torch.equal(predicted_sums(trained, image_classes(trained, scrambled.eval_x), pairs), expected)
    with pytest.raises(ValueError, match="no program"):
        evaluate_lengths(AdditionModel(2, "neural", "lenet"), data, seed=2)


def test_welch_against_a_published_mean():
    assert welch_p([50.0, 52.0, 48.0, 51.0, 49.0], 37.8, 2.9, 5) < 0.001
    assert welch_p([40.0, 44.0, 36.0, 47.0, 35.0], 37.8, 2.9, 5) > 0.05


@pytest.mark.slow
def test_lengths_py_evaluates_every_kept_model_and_writes_the_summary(tmp_path, mnist):
    """Two tiny learned runs kept as sweep.py keeps them; lengths.py writes each lengths.json (its protocol number at
    the trained N is the run's own) and the summary."""
    for seed in (1, 2):
        folder = tmp_path / f"add-learned-lenet-n2-seed{seed}"
        config = AdditionConfig(digits=2, method="learned", perception="lenet", seed=seed, epochs=1, batch_size=256,
                                cell_init=1.0, balance=1.0, device="cpu", precision="fp32", train_pairs=600,
                                log_interval=10**6, output_dir=str(folder))
        fit_addition(config, prepare_addition(2, seed, splits=mnist, train_pairs=600), log=lambda line: None)
    assert lengths_script.main([str(tmp_path), "--digits", "2", "4", "30", "--min-sums", "300",
                                "--exact", str(tmp_path / "none")]) == 0
    for seed in (1, 2):
        folder = tmp_path / f"add-learned-lenet-n2-seed{seed}"
        result, metrics = (json.loads((folder / name).read_text()) for name in ("lengths.json", "metrics.json"))
        assert result["lengths"]["2"]["protocol_sum_acc"] == metrics["final"]["sum_acc"]
        assert result["lengths"]["30"]["repaired_sums"] >= 300 and result["lengths"]["30"]["protocol_pairs"] == 166
        low, high = result["lengths"]["4"]["repaired_interval"]
        assert low <= result["lengths"]["4"]["repaired_sum_acc"] <= high
    summary = (tmp_path / "summary.md").read_text()
    assert "| 4 |" in summary and "| 30 |" in summary and "runs learned the exact table" in summary
    assert summary == lengths_summary([json.loads((tmp_path / f"add-learned-lenet-n2-seed{s}/lengths.json").read_text())
                                       for s in (1, 2)],
                                      [json.loads((tmp_path / f"add-learned-lenet-n2-seed{s}/metrics.json").read_text())
                                       for s in (1, 2)], {}, None)  # a folder of no study


@pytest.mark.slow
def test_the_notebook_evaluates_the_model_it_trained_at_other_n(tmp_path):
    """papermill's `frozen_at` (a list, as `-y` gives it): the notebook's model trained at N = 1, frozen, adds 2- and
    30-digit numbers into lengths.json (both test sets per N), and prints them."""
    out = tmp_path / "run"
    pm.execute_notebook(str(ROOT / "notebooks/mnist_addition.ipynb"), str(tmp_path / "executed.ipynb"),
                        parameters={"epochs": 1, "perception": "lenet", "train_pairs": 2000, "precision": "fp32",
                                    "frozen_at": [2, 30], "output_dir": str(out)},
                        kernel_name="python3", cwd=str(ROOT), progress_bar=False)
    result = json.loads((out / "lengths.json").read_text())
    assert result["trained_digits"] == 1 and list(result["lengths"]) == ["2", "30"]
    at_30 = result["lengths"]["30"]
    assert at_30["protocol_pairs"] == 10_000 // 60 and at_30["repaired_sums"] >= 2000
    low, high = result["lengths"]["2"]["repaired_interval"]
    assert low <= result["lengths"]["2"]["repaired_sum_acc"] <= high
    assert "N = 30: " in (tmp_path / "executed.ipynb").read_text()


def test_the_summary_sets_the_runs_that_learned_the_table_apart_only_where_some_did_not():
    """Three runs, one of which learned no exact table: the summary adds a table over the other two, named as a subset
    picked after the fact; where every run learned it, no such table."""
    def run(seed, acc):
        return {"trained_digits": 2, "seed": seed, "matched_digit_acc": 0.99,
                "lengths": {"4": {"protocol_sum_acc": acc, "protocol_pairs": 1250, "repaired_sum_acc": acc,
                                  "repaired_sums": 2500, "composed": 0.9}}}
    def metrics(right):
        return {"cell": {"right": right, "entries": 200}, "restarts": [], "train_seconds": 100.0}
    runs, tables = [run(1, 0.97), run(2, 0.96), run(3, 0.40)], [metrics(200), metrics(200), metrics(150)]
    summary = lengths_summary(runs, tables, {}, None)
    assert "2 of 3 runs learned the exact table" in summary
    assert "Only the 2 runs that learned the exact table" in summary
    assert "| 4 | **96.50 ± 0.71** (2500) |" in summary  # the two, not the three (77.67)
    assert "Only the" not in lengths_summary(runs[:2], tables[:2], {}, None)


def test_an_ensemble_reads_its_members_mean_probabilities():
    """One member: its own log probabilities; two: the log of their mean."""
    first, second = torch.nn.Linear(3, 4), torch.nn.Linear(3, 4)
    x = torch.randn(64, 3)
    assert torch.allclose(Ensemble([first])(x), first(x).log_softmax(-1), atol=1e-6)
    mean = (first(x).softmax(-1) + second(x).softmax(-1)) / 2
    assert torch.allclose(Ensemble([first, second])(x).exp(), mean, atol=1e-6)


@pytest.mark.slow
def test_ensemble_lengths_adds_members_on_the_kept_models_reading(tmp_path, mnist):
    """probes/ensemble_lengths.py on two tiny kept `learned` runs with relabelled epochs, their tables set to addition
    on a permutation of the classes (as a run that learned it): each gets one more perception on its own seed (member
    1, not the run's own relabelled one again), its lengths.json and metrics.json go to the out folder, the run's
    folder is left as it was, and the summary counts the members' seconds. Fewer than 2 members is refused."""
    from probes import ensemble_lengths
    runs = tmp_path / "runs"
    for seed in (1, 2):
        folder = runs / f"add-learned-lenet-n2-seed{seed}"
        config = AdditionConfig(digits=2, method="learned", perception="lenet", seed=seed, epochs=1, batch_size=256,
                                device="cpu", precision="fp32", train_pairs=600, log_interval=10**6, cell_init=1.0,
                                relabel_epochs=1, relabel_perception="lenet", output_dir=str(folder))
        fit_addition(config, prepare_addition(2, seed, splits=mnist, train_pairs=600), log=lambda line: None)
        state = read_state(folder / "model.pt", ADDITION_FORMAT)
        values = torch.randperm(10, generator=torch.Generator().manual_seed(seed))
        total = values[:, None, None] + values[None, :, None] + torch.arange(2)
        code = total % 10 * 2 + (total >= 10).long()  # [class a, class b, c_in] -> s * 2 + c_out
        state["model"]["cell.table"] = torch.nn.functional.one_hot(code, 20).float().view(10, 10, 2, 10, 2) * 10
        save_state(folder / "model.pt", state)
    kept = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    assert ensemble_lengths.main([str(runs), "--members", "2", "--digits", "2", "4", "--min-sums", "300",
                                  "--out", str(out)]) == 0
    assert kept == {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}
    for seed in (1, 2):
        result, metrics = (json.loads((out / f"add-learned-lenet-n2-seed{seed}" / name).read_text())
                           for name in ("lengths.json", "metrics.json"))
        ensemble = metrics["ensemble"]
        assert ensemble["members"] == 2 and [r["member"] for r in ensemble["trained"]] == [1]
        assert ensemble["precision"] == "fp32" and ensemble["versions"]["torch"] == torch.__version__
        assert ensemble["seconds"] == pytest.approx(ensemble["trained"][0]["history"][0]["seconds"])
        assert result["seed"] == seed and list(result["lengths"]) == ["2", "4"]
    model, params = load_addition_model(runs / "add-learned-lenet-n2-seed1" / "model.pt")
    data = prepare_addition(2, 1, train_pairs=600, splits=mnist)
    config = AdditionConfig(**params)
    own, member = (relabelled(model, config, data, log=lambda line: None, member=k) for k in (0, 1))
    assert not torch.equal(member[0].network[0].weight, own[0].network[0].weight)  # member 1: a seed of its own
    trained = json.loads((out / "add-learned-lenet-n2-seed1" / "metrics.json").read_text())["ensemble"]["trained"][0]
    assert member[1]["history"][0]["digit_acc"] == trained["history"][0]["digit_acc"]  # the probe's member 1
    summary = (out / "summary.md").read_text()
    assert "1 more fresh `lenet` perception" in summary and "an ensemble of 2" in summary
    assert "further members" in summary
    assert f"probes/ensemble_lengths.py {runs} --members 2 --digits 2 4 --min-sums 300" in summary
    (out / "summary.md").unlink()
    assert ensemble_lengths.main([str(runs), "--members", "2", "--digits", "2", "4", "--min-sums", "300",
                                  "--out", str(out), "--summary-only"]) == 0
    assert (out / "summary.md").read_text() == summary
    with pytest.raises(SystemExit) as refused:
        ensemble_lengths.main([str(runs), "--members", "1"])
    assert refused.value.code == 2
