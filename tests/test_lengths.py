"""Length generalization: re-paired test sets deterministic per seed and each image at most once per re-pairing, a
frozen model at another N answering as that N's model would and reading no label to do so, `lengths` end to end (in
`fit`, in the notebook, in a study's summary), and `members` read as one."""
import json

import papermill as pm
import pytest
import torch

from helpers.core.paths import ROOT
from helpers.core.stats import welch_p
from helpers.mnist_addition.data import AdditionData, prepare_addition, protocol_pairs
from helpers.mnist_addition.evaluation import evaluate_addition
from helpers.mnist_addition.lengths import evaluate_lengths, image_classes, predicted_sums, repairings
from helpers.mnist_addition.model import AdditionModel, Ensemble, load_addition_model
from helpers.mnist_addition.results import lengths_summary, summary
from helpers.mnist_addition.settings import AdditionConfig
from helpers.mnist_addition.train import fit, relabel


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
        evaluate_lengths(AdditionModel(2, "neural", "lenet"), data, seed=2, lengths=(4,))


def test_welch_against_a_published_mean():
    assert welch_p([50.0, 52.0, 48.0, 51.0, 49.0], 37.8, 2.9, 5) < 0.001
    assert welch_p([40.0, 44.0, 36.0, 47.0, 35.0], 37.8, 2.9, 5) > 0.05


@pytest.mark.slow
def test_a_run_with_lengths_writes_them_into_its_metrics_and_the_study_summary(tmp_path, mnist):
    """Two tiny learned runs with `lengths`: each metrics.json holds the frozen model's sums at every N (its protocol
    number at the trained N is the run's own), and the folder's summary is the lengths summary, by the command given."""
    for seed in (1, 2):
        folder = tmp_path / f"add-learned-lenet-n2-seed{seed}"
        config = AdditionConfig(digits=2, method="learned", perception="lenet", seed=seed, epochs=1, batch_size=256,
                                cell_init=1.0, balance=1.0, device="cpu", precision="fp32", train_pairs=600,
                                log_interval=10**6, lengths=(2, 4, 30), output_dir=str(folder))
        fit(config, prepare_addition(2, seed, splits=mnist, train_pairs=600), log=lambda line: None)
    for seed in (1, 2):
        metrics = json.loads((tmp_path / f"add-learned-lenet-n2-seed{seed}" / "metrics.json").read_text())
        result = metrics["lengths"]
        assert result["lengths"]["2"]["protocol_sum_acc"] == metrics["final"]["sum_acc"]
        assert result["lengths"]["30"]["repaired_sums"] >= 2000 and result["lengths"]["30"]["protocol_pairs"] == 166
        low, high = result["lengths"]["4"]["repaired_interval"]
        assert low <= result["lengths"]["4"]["repaired_sum_acc"] <= high
    text = summary(tmp_path, "python sweep.py --study x")
    assert "| 4 |" in text and "| 30 |" in text and "runs learned the exact table" in text
    assert "Written by `python sweep.py --study x` from `*/metrics.json`" in text and "DSL" in text


@pytest.mark.slow
def test_the_notebook_evaluates_the_model_it_trained_at_other_n(tmp_path):
    """papermill's `lengths` (a list, as `-y` gives it): the notebook's model trained at N = 1, frozen, adds 2- and
    30-digit numbers into metrics.json (both test sets per N), and prints them."""
    out = tmp_path / "run"
    pm.execute_notebook(str(ROOT / "notebooks/mnist_addition.ipynb"), str(tmp_path / "executed.ipynb"),
                        parameters={"epochs": 1, "perception": "lenet", "train_pairs": 2000, "precision": "fp32",
                                    "lengths": [2, 30], "output_dir": str(out)},
                        kernel_name="python3", cwd=str(ROOT), progress_bar=False)
    result = json.loads((out / "metrics.json").read_text())["lengths"]
    assert result["trained_digits"] == 1 and list(result["lengths"]) == ["2", "30"]
    at_30 = result["lengths"]["30"]
    assert at_30["protocol_pairs"] == 10_000 // 60 and at_30["repaired_sums"] >= 2000
    low, high = result["lengths"]["2"]["repaired_interval"]
    assert low <= result["lengths"]["2"]["repaired_sum_acc"] <= high
    assert "N = 30: " in (tmp_path / "executed.ipynb").read_text()


def test_the_summary_sets_the_runs_that_learned_the_table_apart_only_where_some_did_not():
    """Three runs, one of which learned no exact table: the summary adds a table over the other two, named as a subset
    picked after the fact; where every run learned it, no such table."""
    def run(seed, acc, right):
        return {"params": {"seed": seed, "val_size": 0}, "cell": {"right": right, "entries": 200}, "restarts": [],
                "train_seconds": 100.0,
                "lengths": {"trained_digits": 2, "seed": seed, "matched_digit_acc": 0.99,
                            "lengths": {"4": {"protocol_sum_acc": acc, "protocol_pairs": 1250, "repaired_sum_acc": acc,
                                              "repaired_sums": 2500, "composed": 0.9}}}}
    runs = [run(1, 0.97, 200), run(2, 0.96, 200), run(3, 0.40, 150)]
    text = lengths_summary(runs, {}, "python sweep.py")
    assert "2 of 3 runs learned the exact table" in text
    assert "Only the 2 runs that learned the exact table" in text
    assert "| 4 | **96.50 ± 0.71** (2500) |" in text  # the two, not the three (77.67)
    assert "Only the" not in lengths_summary(runs[:2], {}, "python sweep.py")
    assert "| 4 | 88.9 ± 0.5 |" not in text and "| 88.9 ± 0.5 |" in text  # DSL's, in its own column


def test_an_ensemble_reads_its_members_mean_probabilities():
    """One member: its own log probabilities; two: the log of their mean."""
    first, second = torch.nn.Linear(3, 4), torch.nn.Linear(3, 4)
    x = torch.randn(64, 3)
    assert torch.allclose(Ensemble([first])(x), first(x).log_softmax(-1), atol=1e-6)
    mean = (first(x).softmax(-1) + second(x).softmax(-1)) / 2
    assert torch.allclose(Ensemble([first, second])(x).exp(), mean, atol=1e-6)


@pytest.mark.slow
def test_members_train_on_the_first_ones_reading_and_are_read_as_one(tmp_path, mnist):
    """`members` 2 (the exact program, whose reading needs no learned table): the second perception has a seed of its
    own and trains on the first one's reading of the sums, exactly as `relabel` of the first one would; both are
    read as one (`Ensemble`), which model.pt keeps and loads; the seconds count every perception."""
    data = prepare_addition(2, 1, splits=mnist, train_pairs=600)
    config = AdditionConfig(digits=2, perception="lenet", seed=1, epochs=1, batch_size=256, device="cpu",
                            precision="fp32", train_pairs=600, log_interval=10**6, relabel_epochs=1,
                            relabel_perception="lenet", members=2, lengths=(2, 4), output_dir=str(tmp_path / "run"))
    run = fit(config, data, log=lambda line: None)
    metrics = run["metrics"]
    assert isinstance(run["model"].network, Ensemble) and len(run["model"].network.members) == 2
    ensemble = metrics["ensemble"]
    assert ensemble["members"] == 2 and [r["member"] for r in ensemble["trained"]] == [1]
    every = metrics["history"] + metrics["relabel"]["history"] + ensemble["trained"][0]["history"]
    assert metrics["train_seconds"] == pytest.approx(sum(h["seconds"] for h in every))
    first = AdditionModel(2, "exact", "lenet")
    first.network.load_state_dict(run["model"].network.members[0].state_dict())
    member, record = relabel(first, config, data.to("cpu"), member=1, log=lambda line: None)
    assert torch.equal(member.network[0].weight, run["model"].network.members[1][0].weight)  # the first one's reading
    same_reading = relabel(first, config, data.to("cpu"), member=0, log=lambda line: None)[0]
    assert not torch.equal(member.network[0].weight, same_reading.network[0].weight)  # on a seed of its own
    assert record["history"][0]["train_loss"] == ensemble["trained"][0]["history"][0]["train_loss"]
    model, params = load_addition_model(tmp_path / "run" / "model.pt")
    assert params["members"] == 2 and evaluate_addition(model, data)["sum_acc"] == metrics["final"]["sum_acc"]
    assert list(metrics["lengths"]["lengths"]) == ["2", "4"]
