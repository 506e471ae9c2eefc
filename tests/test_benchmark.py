"""benchmark.py's summary of a run: wall time, throughput, time to 99 % joint accuracy."""
import pytest

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
