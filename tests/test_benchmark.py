"""benchmark.py's summary of a run: wall time, throughput, time to 99 % joint accuracy."""
import pytest
import torch

import benchmark


def history(joints, seconds=10.0):
    return [{"epoch": i + 1, "seconds": seconds, "digit_acc": j, "sum_acc": j, "joint_acc": j} for i, j in enumerate(joints)]


def test_time_to_99_counts_the_epochs_until_the_first_that_reached_it():
    summary = benchmark.summarize(history([0.9, 0.985, 0.991, 0.989, 0.995]))
    assert summary["seconds"] == 50 and summary["seconds_to_99"] == 30
    assert summary["samples_per_s"] == pytest.approx(60_000 * 5 / 50)
    assert summary["joint_acc"] == 0.995


def test_a_run_that_never_reaches_99_says_so():
    assert benchmark.summarize(history([0.9, 0.98]))["seconds_to_99"] is None


def test_the_table_gives_each_rounds_ratio_the_mean_ratio_and_why_each_precision():
    def run(name, seed, seconds, precision="fp32", why="asked for"):
        return {"name": name, "seed": seed, "seconds": seconds, "precision": precision, "precision_reason": why,
                "seconds_to_99": None, "digit_acc": 0.99, "sum_acc": 0.99, "joint_acc": 0.99}
    result = {"command": "python benchmark.py default fast", "versions": {"device": "a CPU", "torch": "2"}, "device": "cpu",
              "threads": 2, "runs": [run("reference", 1, 100), run("default", 1, 50), run("fast", 1, 10, "bf16", "auto: ..."),
                                     run("reference", 2, 80), run("default", 2, 40), run("fast", 2, 8, "bf16", "auto: ...")]}
    text = benchmark.benchmark_table(result)
    assert "| fast | bf16 | 2 | 9.0 ± 1.4 | never, never |" in text
    assert "| 0.10–0.10 | 0.10 | 0.20 |" in text  # each round 10/100 and 8/80; mean 9/90; over the default's 45
    assert "* fast: auto: ..." in text


def test_the_gpu_check_says_in_one_line_that_there_is_no_gpu_and_exits_0(monkeypatch, capsys):
    import gpu_check
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1 and "no CUDA GPU" in out
