"""The benchmark's summary of a run (wall time, throughput, time to 99 %), its table, the public speed recipe's row,
and tools/gpu_check.py's checks, run on the CPU (the sync mode is CUDA's: off here)."""
import importlib.util
import json

import pytest
import torch

import benchmark
from helpers.core.mnist import load_mnist
from helpers.digit_and_sum.benchmark import FAST_MNIST, benchmark_table, fast_mnist, summarize

from conftest import ROOT


def history(joints, seconds=10.0):
    return [{"epoch": i + 1, "seconds": seconds, "digit_acc": j, "sum_acc": j, "joint_acc": j} for i, j in enumerate(joints)]


def test_time_to_99_counts_the_epochs_until_the_first_that_reached_it():
    summary = summarize(history([0.9, 0.985, 0.991, 0.989, 0.995]))
    assert summary["seconds"] == 50 and summary["seconds_to_99"] == 30
    assert summary["samples_per_s"] == pytest.approx(60_000 * 5 / 50)
    assert summary["joint_acc"] == 0.995


def test_a_run_that_never_reaches_99_says_so_and_a_digits_only_run_is_timed_on_its_digits():
    assert summarize(history([0.9, 0.98]))["seconds_to_99"] is None
    digits_only = summarize([{"epoch": 1, "seconds": 6.0, "digit_acc": 0.991}], key="digit_acc")
    assert digits_only["seconds_to_99"] == 6.0 and digits_only["joint_acc"] is None


def test_the_table_gives_each_rounds_ratio_the_mean_ratio_and_why_each_precision():
    def run(name, seed, seconds, precision="fp32", why="asked for"):
        return {"name": name, "seed": seed, "seconds": seconds, "precision": precision, "precision_reason": why,
                "seconds_to_99": None, "digit_acc": 0.99, "sum_acc": 0.99, "joint_acc": 0.99}
    result = {"command": "python benchmark.py default fast", "versions": {"device": "a CPU", "torch": "2"}, "device": "cpu",
              "threads": 2, "runs": [run("reference", 1, 100), run("default", 1, 50), run("fast", 1, 10, "bf16", "auto: ..."),
                                     run("reference", 2, 80), run("default", 2, 40), run("fast", 2, 8, "bf16", "auto: ..."),
                                     {**run(FAST_MNIST, 1, 6), "sum_acc": None, "joint_acc": None}]}
    text = benchmark_table(result)
    assert "| fast | bf16 | 2 | 9.0 ± 1.4 | never, never |" in text
    assert "| 0.10–0.10 | 0.10 | 0.20 |" in text  # each round 10/100 and 8/80; mean 9/90; over the default's 45
    assert "* fast: auto: ..." in text
    assert f"| {FAST_MNIST} | fp32 | 1 | 6.0 ± 0.0 | never | 99.00 ± 0.00 | – | – |" in text  # digits only


def test_the_public_speed_recipe_learns_digits_in_one_epoch(mnist):
    """tuomaso/train_mnist_fast's recipe, re-implemented: one epoch (here of the first 12,800 images, the rest of its
    recipe as published) already reads most digits; it reports digits only."""
    small = {"train": (mnist["train"][0][:12_800], mnist["train"][1][:12_800]), "test": (mnist["test"][0][:2000],
                                                                                         mnist["test"][1][:2000])}
    (epoch,) = fast_mnist(1, small, log=lambda line: None)
    assert set(epoch) == {"epoch", "seconds", "digit_acc"} and epoch["digit_acc"] > 0.9


def test_the_benchmark_refuses_a_recipe_it_does_not_know(capsys):
    with pytest.raises(SystemExit) as refused:
        benchmark.main(["nonsense"])
    assert refused.value.code == 2 and "invalid choice: 'nonsense'" in capsys.readouterr().err


def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "tools" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_gpu_check_says_in_one_line_that_there_is_no_gpu_and_exits_0(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check().main([]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1 and "no CUDA GPU" in out


@pytest.mark.slow
def test_the_gpu_checks_run_on_the_cpu(tmp_path):
    """Each check of tools/gpu_check.py, small, on the CPU: the sync check's steps (sync mode off: it is CUDA's), the
    notebook through papermill, and the MNIST-addition recipe with its lengths; so a first GPU run fails only on what a
    GPU shows."""
    check, cpu = gpu_check(), torch.device("cpu")
    synced = check.sync_check(cpu, steps=3)
    assert synced["steps"] == 3 and synced["precision"] == "fp32" and synced["mean_loss"] > 0
    notebook = check.notebook_check(cpu, tmp_path, {"epochs": 1, "train_size": 1000, "eval_size": 500,
                                                    "min_joint_acc": 0.0})
    assert notebook["precision"] == "fp32" and 0 <= notebook["final"]["joint_acc"] <= 1
    cells = json.loads((tmp_path / "notebook.ipynb").read_text())["cells"]
    assert not [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    addition = check.addition_check(cpu, {"epochs": 1, "train_pairs": 300, "restarts": 0, "relabel_epochs": 1,
                                          "perception": "lenet", "relabel_perception": "lenet", "lengths": (2, 4)})
    assert addition["attempts"] == 1 and set(addition["lengths"]) <= {"2", "4"}
