"""The same training numbers as recorded: small runs of several configurations (heads, augmentation, centring,
held-out pairs) against tests/fixtures/histories.json, written by `python tests/test_histories.py` on an Intel Xeon
(AMX). On that machine, with the same library build, they agree bit for bit; another CPU sums the same floats in
another order, so the losses agree to 1e-3 and each accuracy within a few of the 10,000 test pairs. A change that
moves what a run computes (a refactor that should not) fails here."""
import json
from pathlib import Path

import pytest

import helpers
from conftest import ROOT, outcome

FIXTURE = ROOT / "tests" / "fixtures" / "histories.json"
RUNS = {  # every one in fp32: bf16 differs between CPUs by design
    "default": {},
    "symadder-k30": {"head": "symadder", "holdout": 30},
    "robust-centre-mid": {"augment": "robust", "centre_input": True, "backbone": "mid"},
}


def history_of(name: str, tmp_path, data) -> dict:
    config = helpers.Config(**RUNS[name], epochs=2, batch_size=100, train_size=3000, log_interval=10, device="cpu",
                            precision="fp32", output_dir=str(tmp_path))
    history, train_log = outcome(helpers.fit(config, data, log=lambda line: None))
    return {"history": history, "train_log": [entry["loss"] for entry in train_log]}


@pytest.fixture(scope="module")
def data():
    return helpers.prepare_data(train_size=3000, download=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RUNS))
def test_a_run_computes_what_was_recorded(name, tmp_path, data):
    recorded, now = json.loads(FIXTURE.read_text())[name], history_of(name, tmp_path, data)
    for h, r in zip(now["history"], recorded["history"], strict=True):
        assert h["train_loss"] == pytest.approx(r["train_loss"], rel=1e-3)
        assert h["test_loss"] == pytest.approx(r["test_loss"], rel=1e-3)
        for acc in helpers.ACCURACIES:
            assert h[acc] == pytest.approx(r[acc], abs=5 / 10_000), acc
    assert now["train_log"] == pytest.approx(recorded["train_log"], rel=1e-3)


if __name__ == "__main__":  # python tests/test_histories.py: record the fixture anew (after a change meant to move them)
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        loaded = helpers.prepare_data(train_size=3000, download=False)
        FIXTURE.write_text(json.dumps({name: history_of(name, Path(tmp) / name, loaded) for name in RUNS}, indent=1))
    print(f"wrote {FIXTURE}")
