"""sweep.py's summary: grouping by configuration, mean ± std, first epoch at 99 %."""
import json

import sweep


def fake_run(joints, heldout=0.9, seen=0.99, invalid=20, **params):
    history = [{"epoch": i + 1, "digit_acc": j, "sum_acc": j, "joint_acc": j} for i, j in enumerate(joints)]
    return {"params": params, "history": history, "final": {k: joints[-1] for k in ("digit_acc", "sum_acc", "joint_acc")},
            "train_seconds": 50.0, "exhaustive": {"invalid": invalid, "pairs": 100_000,
                                                  "heldout_pairs": {"joint_acc": heldout, "sum_acc": heldout},
                                                  "seen_pairs": {"joint_acc": seen, "sum_acc": seen}}}


def test_summary_groups_seeds_and_reports_mean_and_std(tmp_path):
    runs = {"binary-seed1": fake_run([0.98, 0.991, 0.992]), "binary-seed2": fake_run([0.97, 0.98, 0.994]),
            "softmax-holdout-seed1": fake_run([0.5, 0.6, 0.7], heldout=0.2)}
    for name, metrics in runs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))
    groups = sweep.load_results(tmp_path)
    assert {c: len(r) for c, r in groups.items()} == {"binary": 2, "softmax-holdout": 1}
    rows = {r["config"]: r for r in sweep.summary_rows(groups)}
    assert rows["binary"]["joint_acc"] == "99.30 ± 0.14"  # mean of 99.2 and 99.4, sample std 0.141
    assert rows["binary"]["epoch_99"] == "2, 3"
    assert rows["softmax-holdout"]["epoch_99"] == "never" and rows["softmax-holdout"]["heldout"] == "20.00 ± 0.00"
    assert rows["binary"]["invalid"] == 20 / 100_000
    text = sweep.write_summary(groups, tmp_path / "summary.md")
    assert (tmp_path / "summary.md").read_text() == text
    assert "| binary | 2 | 99.30 ± 0.14 |" in text and "on the fixed test pairs" in text


def test_the_summary_names_the_validation_split_when_the_runs_used_one(tmp_path):
    (tmp_path / "mid-seed1").mkdir()
    (tmp_path / "mid-seed1" / "metrics.json").write_text(json.dumps(fake_run([0.99], val_size=10_000)))
    text = sweep.write_summary(sweep.load_results(tmp_path), tmp_path / "summary.md")
    assert "on the fixed validation pairs" in text and "every validation image" in text and "test" not in text


def test_the_curve_table_takes_runs_that_hold_out_k_pairs(tmp_path):
    runs = {"binary": fake_run([0.99]),
            "binary-k30-seed1": fake_run([0.99], heldout=0.5, encoding="binary", holdout=30),
            "binary-k30-seed2": fake_run([0.99], heldout=0.7, encoding="binary", holdout=30),
            "input-scalar-k10-seed1": fake_run([0.99], heldout=0.2, encoding="binary", holdout=10, number_input="scalar"),
            "binary-holdout-seed1": fake_run([0.99], encoding="binary", holdout="3d+7")}
    for name, metrics in runs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))
    rows = sweep.curve_rows(sweep.load_results(tmp_path))
    assert [(r["number_input"], r["k"], r["n"]) for r in rows] == [("bits", 30, 2), ("scalar", 10, 1)]
    assert rows[0]["heldout_joint"] == "60.00 ± 14.14" and rows[1]["heldout_sum"] == "20.00 ± 0.00"
    assert "| binary | scalar | 10 | 1 | 20.00 ± 0.00 |" in sweep.write_summary(sweep.load_results(tmp_path), tmp_path / "s.md")
