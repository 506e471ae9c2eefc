"""The sweep summary: grouping by configuration, mean ± std, first epoch at 99 %, older runs upgraded."""
import json
import re
import shlex

import pytest

from helpers.core import mnist
from helpers.core.paths import ROOT
from helpers.core.stats import rate, wilson
from helpers.digit_and_sum.recipes import RECIPES
from helpers.digit_and_sum.pairs import cell_coverage, held_out_pairs
from helpers.digit_and_sum.results import load_results, summary_rows, upgrade_metrics
from helpers.digit_and_sum.settings import Config
from helpers.mnist_addition.recipes import RECIPES as ADDITION_RECIPES
from helpers.mnist_addition.settings import AdditionConfig
from helpers.studies.holdout import curve_rows, draws_rows, summary
from helpers.studies.plans import STUDIES
from helpers.studies.tasks import TASKS

import sweep


def fake_run(joints, heldout=0.9, seen=0.99, invalid=20, **params):
    history = [{"epoch": i + 1, "digit_acc": j, "sum_acc": j, "joint_acc": j} for i, j in enumerate(joints)]
    return {"params": params, "history": history, "final": {k: joints[-1] for k in ("digit_acc", "sum_acc", "joint_acc")},
            "train_seconds": 50.0, "exhaustive": {"invalid": invalid, "pairs": 100_000,
                                                  "heldout_pairs": {"joint_acc": heldout, "sum_acc": heldout},
                                                  "seen_pairs": {"joint_acc": seen, "sum_acc": seen}}}


def test_summary_groups_seeds_and_reports_mean_and_std(tmp_path):
    runs = {"default-seed1": fake_run([0.98, 0.991, 0.992], encoding="binary", holdout=0),
            "default-seed2": fake_run([0.97, 0.98, 0.994], encoding="binary", holdout=0),
            "softmax-holdout-seed1": fake_run([0.5, 0.6, 0.7], heldout=0.2)}
    for name, metrics in runs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))
    groups = load_results(tmp_path)
    assert {c: len(r) for c, r in groups.items()} == {"default": 2, "softmax-holdout": 1}
    rows = {r["config"]: r for r in summary_rows(groups)}
    assert rows["default"]["joint_acc"] == "99.30 ± 0.14"  # mean of 99.2 and 99.4, sample std 0.141
    assert rows["default"]["epoch_99"] == "2, 3"
    assert rows["softmax-holdout"]["epoch_99"] == "never" and rows["softmax-holdout"]["heldout"] == "20.00 ± 0.00"
    assert rows["default"]["invalid"] == 20 / 100_000
    text = summary(groups)
    assert "| default | 2 | 99.30 ± 0.14 |" in text and "on the fixed test pairs" in text


def test_the_summary_names_the_validation_split_when_the_runs_used_one(tmp_path):
    (tmp_path / "mid-seed1").mkdir()
    (tmp_path / "mid-seed1" / "metrics.json").write_text(json.dumps(fake_run([0.99], val_size=10_000)))
    text = summary(load_results(tmp_path))
    assert "on the fixed validation pairs" in text and "every validation image" in text and "test" not in text


def test_the_curve_table_takes_runs_that_hold_out_k_pairs(tmp_path):
    runs = {"default-seed1": fake_run([0.99], heldout=0.9, encoding="binary", holdout=0),  # the curve's k = 0 by name
            "mid-seed1": fake_run([0.99], encoding="binary", holdout=0, backbone="mid"),  # not on the curve
            "mlp-k30-seed1": fake_run([0.99], heldout=0.5, encoding="binary", holdout=30),
            "mlp-k30-seed2": fake_run([0.99], heldout=0.7, encoding="binary", holdout=30),
            "input-scalar-k10-seed1": fake_run([0.99], heldout=0.2, encoding="binary", holdout=10, number_input="scalar"),
            "binary-holdout-seed1": fake_run([0.99], encoding="binary", holdout="3d+7"),
            "adder-k0-seed1": fake_run([0.99], heldout=0.99, encoding="binary", holdout=0, head="adder")}
    for name, metrics in runs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))
    rows = curve_rows(load_results(tmp_path))
    assert [(r["head"], r["number_input"], r["k"], r["n"]) for r in rows] == [
        ("mlp", "bits", 0, 1), ("mlp", "bits", 30, 2), ("adder", "bits", 0, 1), ("mlp", "scalar", 10, 1)]
    assert rows[1]["heldout_joint"] == "60.00 ± 14.14" and rows[3]["heldout_sum"] == "20.00 ± 0.00"
    assert rows[1]["unseen_joint"] == "–"  # older runs did not record the numbers 10..15
    text = summary(load_results(tmp_path))
    assert "| mlp | binary | scalar | 10 | 1 | 20.00 ± 0.00 |" in text


def test_older_runs_read_in_todays_schema_and_the_summary_names_their_code(tmp_path):
    old = fake_run([0.99], encoding="binary")  # before number_input, head, label smoothing and provenance
    new = {**fake_run([0.99], encoding="binary", head="adder"),
           "versions": {"code": {"commit": "0123456789abcdef", "dirty": False}}}
    upgraded = upgrade_metrics(old)
    assert {k: upgraded["params"][k] for k in ("head", "number_input", "label_smoothing", "precision")} == {
        "head": "mlp", "number_input": "bits", "label_smoothing": 0.0, "precision": "fp32"}
    assert upgraded["versions"]["code"] is None and "versions" not in old  # the original is left as it was
    assert upgrade_metrics(new)["params"]["head"] == "adder"
    for name, metrics in {"default-seed1": old, "adds-seed1": new}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))
    rows = {r["config"]: r["code"] for r in summary_rows(load_results(tmp_path))}
    assert rows == {"default": "not recorded", "adds": "0123456"}


def test_each_worker_on_a_machine_with_gpus_trains_on_its_own():
    """A stand-in device list with two GPUs and three workers on one machine, one on another."""
    addresses = ["tcp://10.0.0.1:4001", "tcp://10.0.0.1:4002", "tcp://10.0.0.1:4003", "tcp://10.0.0.2:4001"]
    slots = sweep.worker_slots(addresses)
    assert slots == {addresses[0]: (0, 3), addresses[1]: (1, 3), addresses[2]: (2, 3), addresses[3]: (0, 1)}
    two_gpus = ["cpu", "cuda:0", "cuda:1"]
    assert [sweep.worker_device("auto", slots[a][0], two_gpus) for a in addresses] == ["cuda:0", "cuda:1", "cuda:0",
                                                                                        "cuda:0"]
    assert sweep.worker_device("auto", 1, ["cpu"]) == "auto"  # no accelerator: the notebook's own choice
    assert sweep.worker_device("cpu", 1, two_gpus) == "cpu" and sweep.worker_device("cuda:1", 0, two_gpus) == "cuda:1"


def test_wilson_intervals_match_the_textbook_values():
    """95 % Wilson score intervals (Agresti & Coull 1998): 0/10 -> 0-27.8 %, 5/10 -> 23.7-76.3 %, 10/10 -> 72.2-100 %."""
    for (k, n), (low, high) in {(0, 10): (0.0, 0.2775), (5, 10): (0.2366, 0.7634), (10, 10): (0.7225, 1.0)}.items():
        assert wilson(k, n) == pytest.approx((low, high), abs=1e-4)
    assert rate([True] * 9 + [False]) == "9/10 (60–98 %)"


def test_the_draws_table_splits_by_what_the_kept_pairs_show_the_cell(tmp_path):
    """Ten draws of symadder at k = 81: seeds 111 and 113 never show the cell three 1s (counted in test_heads.py)."""
    for seed in range(106, 116):
        held = held_out_pairs(81, seed)
        run = fake_run([0.99], heldout=0.995 if seed not in (111, 113) else 0.6, encoding="binary", head="symadder",
                       holdout=81, seed=seed)
        run["exhaustive"].update(coverage=cell_coverage(held), cell_exact=seed not in (111, 113))
        run["exhaustive"]["heldout_pairs"]["sum_given_digit"] = 0.999
        (tmp_path / f"symadder-k81-seed{seed}").mkdir()
        (tmp_path / f"symadder-k81-seed{seed}" / "metrics.json").write_text(json.dumps(run))
    (row,) = draws_rows(load_results(tmp_path))
    assert (row["draws"], row["covering"], row["seeds"]) == (10, 8, "106–115")
    assert row["exact covering"] == "8/8 (68–100 %)" and row["exact not covering"] == "0/2 (0–66 %)"
    assert row["good all"] == "8/10 (49–94 %)" and row["heldout covering"] == "99.50 ± 0.00"
    assert "## Draws: how often it holds" in summary(load_results(tmp_path))


def test_the_named_sweeps_name_configurations_that_exist_and_build_valid_settings():
    assert {"curve", "fresh-draws", "ablations"} <= set(STUDIES)
    assert STUDIES["fresh-draws"]["seeds"] == list(range(101, 121))
    assert STUDIES["ablations"]["seeds"] == list(range(101, 111))
    for study in STUDIES.values():
        for name in study["configs"]:  # each raises on an invalid setting
            AdditionConfig(**{**ADDITION_RECIPES[name], **study.get("params", {})}) \
                if name.startswith("add-") else Config(**{**RECIPES[name], **study.get("params", {})})
    ablations = {RECIPES[name]["head"] for name in STUDIES["ablations"]["configs"]}
    assert ablations == {"symadder-attached", "symadder-unshared", "digitbits-mlp"}
    assert all(RECIPES[name]["holdout"] == 81 for name in STUDIES["ablations"]["configs"])


def test_a_finished_run_of_either_notebook_is_not_run_again(tmp_path):
    """Re-running a sweep repeats only the missing and failed runs, for the primary notebook's runs and for the
    MNIST-addition runs alike (whose metrics.json has a final evaluation, not an exhaustive one)."""
    def write(name, metrics):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))
    write("default-seed1", {"task": "digit_and_sum", "params": {"seed": 1}, "exhaustive": {"joint_acc": 0.99}})
    write("add-exact-mid-n1-seed1", {"task": "mnist_addition", "params": {"digits": 1, "seed": 1}, "final": {"sum_acc": 0.99}})
    write("default-seed2", {"task": "digit_and_sum", "params": {"seed": 2}})  # stopped before its end
    write("unknown-seed1", {"params": {"seed": 1}, "final": {}})  # no task: not this project's
    with pytest.raises(ValueError, match="names no task"):
        sweep.complete(tmp_path / "unknown-seed1")
    assert sweep.complete(tmp_path / "default-seed1") and sweep.complete(tmp_path / "add-exact-mid-n1-seed1")
    assert not sweep.complete(tmp_path / "default-seed2") and not sweep.complete(tmp_path / "default-seed3")


def test_a_finished_run_with_other_settings_stops_the_sweep_and_names_them(tmp_path):
    """Skipping it would put a different recipe's numbers under the name asked for; replacing it would lose a result."""
    run = tmp_path / "add-learned-mid-n1-seed1"
    run.mkdir()
    asked = sweep.sweep_runs(["add-learned-mid-n1"], [1], {})["add-learned-mid-n1-seed1"]
    recorded = {**asked, "balance": 0.0, "precision": "bf16", "device": "cpu", "log_interval": 7}  # only balance computes
    recorded.pop("task")
    run.joinpath("metrics.json").write_text(json.dumps({"task": "mnist_addition", "params": recorded, "final": {"sum_acc": 0.5}}))
    addition = TASKS["mnist_addition"]
    assert sweep.differences(json.loads(run.joinpath("metrics.json").read_text()), asked, addition) == {"balance": (0.0, 1.0)}
    with pytest.raises(ValueError, match="balance 0.0 there, 1.0 asked"):
        sweep.complete(run, asked)
    with pytest.raises(SystemExit):  # the command line stops before a cluster starts
        sweep.main(["add-learned-mid-n1", "--seeds", "1", "--results", str(tmp_path)])
    assert sweep.complete(run, {**asked, "balance": 0.0})
    old = {"params": {"seed": 1, "holdout": True}, "exhaustive": {"joint_acc": 0.99}}  # older code's fixed pairs
    assert sweep.differences(old, sweep.sweep_runs(["binary-holdout"], [1], {})["binary-holdout-seed1"],
                             TASKS["digit_and_sum"]) == {}


def reproduce_commands(page: str) -> list[list[str]]:
    """The arguments of every `python sweep.py ...` in a page's Reproduce section (continued lines joined)."""
    text = (ROOT / page).read_text()
    block = re.sub(r"\\\n\s*", " ", text[text.index("## Reproduce"):])
    return [shlex.split(line, comments=True)[2:] for line in block.splitlines() if line.startswith("python sweep.py")]


@pytest.mark.parametrize("argv", [["--study", name] for name in STUDIES] + reproduce_commands("docs/mnist_addition.md"),
                         ids=" ".join)
def test_each_study_and_documented_command_names_the_committed_runs_as_they_ran(argv, monkeypatch):
    """Over the committed results each repeats nothing and changes no recipe: every run it names is there, finished
    with the settings it asks for (a run with others stops the command, as `sweep.plan` says)."""
    monkeypatch.chdir(ROOT)
    args, runs = sweep.plan(argv)
    assert runs and [name for name, parameters in runs.items() if not sweep.complete(args.results / name, parameters)] == []


def test_without_mnist_a_local_sweep_stops_before_its_cluster_starts(tmp_path, monkeypatch, capsys):
    """A local cluster's workers share this machine's data folder: the sweep checks (or downloads) MNIST once, first;
    without it, one clear message and exit status 2, instead of a cluster whose every run fails the same way."""
    def offline(*args, **kwargs):
        raise OSError("no network")
    monkeypatch.setattr(mnist.torchvision.datasets, "MNIST", offline)
    monkeypatch.setattr(sweep, "dask_client", lambda *args: pytest.fail("a cluster started"))
    empty = tmp_path / "empty"
    assert sweep.main(["default", "--seeds", "1", "-p", "data_dir", str(empty), "--results", str(tmp_path / "out")]) == 2
    assert "MNIST not found in" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_a_sweep_whose_every_run_failed_writes_no_empty_summary(tmp_path, monkeypatch, capsys):
    """An empty table in summary.md would read as a result: with no finished run the sweep says so and writes none."""
    import contextlib
    monkeypatch.setattr(sweep, "dask_client", lambda *args: contextlib.nullcontext())
    monkeypatch.setattr(sweep, "run_sweep", lambda runs, *args: {name: "RuntimeError: boom" for name in runs})
    assert sweep.main(["default", "--seeds", "1", "--results", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no finished run in" in err and "FAILED default-seed1: RuntimeError: boom" in err
    assert not (tmp_path / "summary.md").exists()


def test_every_recipes_parameters_travel_through_papermill():
    """papermill injects a notebook's parameters as Python literals of JSON's types: a tuple would arrive as its text
    (the final MNIST-addition recipe's `lengths`), so the sweep sends lists, which the settings read back as tuples."""
    from papermill.translators import PythonTranslator
    for task in TASKS.values():
        for name in task.recipes:
            parameters = sweep.sweep_runs([name], [1], {})[f"{name}-seed1"]
            assert all(isinstance(v, (int, float, str, bool, list, type(None))) for v in parameters.values()), name
            namespace = {}
            exec(PythonTranslator.codify({k: v for k, v in parameters.items() if k != "task"}), namespace)
            assert task.settings.from_namespace(namespace) == task.settings(**task.recipes[name], seed=1,
                                                                            **task.fixed), name
