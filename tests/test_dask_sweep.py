"""sweep.py on a real Dask cluster on 127.0.0.1: runs land as they finish, failures are reported by name and
only they are repeated; the local-cluster path starts and stops its workers."""
import json
import os
import signal
import subprocess
import time

import psutil
import pytest
from distributed import Client

from helpers.digit_and_sum.recipes import HOLDOUT_COUNTS, RECIPES
from helpers.digit_and_sum.results import load_results
from helpers.studies.holdout import summary

import sweep
from conftest import ROOT, free_port

TINY = {"epochs": 1, "train_size": 2000, "eval_size": 500, "log_interval": 10}


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL, to the process group the process leads (its own children too)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=15)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` and `dask worker --nworkers 2` started as the README says, on 127.0.0.1: the scheduler in a
    folder outside the checkout, without PYTHONPATH, as on a machine that has only the pinned packages."""
    tmp = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    started = []
    try:
        started.append(subprocess.Popen(
            ["dask", "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
            cwd=tmp, env=env, stdout=open(tmp / "scheduler.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True))
        started.append(subprocess.Popen(
            ["dask", "worker", address, "--nworkers", "2", "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
             "--local-directory", str(tmp / "workers")],
            cwd=ROOT, env=env, stdout=open(tmp / "workers.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=90)
            yield client
    finally:
        for process in reversed(started):
            stop(process)
        assert all(process.poll() is not None for process in started)


@pytest.mark.slow
def test_runs_land_as_they_finish_and_only_failed_runs_repeat(cluster, tmp_path):
    results, notebooks = tmp_path / "results", tmp_path / "notebooks"
    runs = sweep.sweep_runs(["mlp-k10"], [1, 2], TINY)
    runs["bad-seed1"] = {**runs["mlp-k10-seed1"], "backbone": "resnet"}
    submitted = []
    real_submit = cluster.submit

    def spy(function, parameters, *args, key, **kwargs):
        submitted.append(key.split("-seed")[0].removeprefix("sweep-"))
        return real_submit(function, parameters, *args, key=key, **kwargs)

    cluster.submit = spy
    try:
        failures = sweep.run_sweep(runs, cluster, results, notebooks)
        assert set(failures) == {"bad-seed1"}, failures
        assert "backbone must be one of" in failures["bad-seed1"] and "resnet" in failures["bad-seed1"]
        for seed in (1, 2):
            metrics = json.loads((results / f"mlp-k10-seed{seed}" / "metrics.json").read_text())
            assert metrics["params"]["seed"] == seed and metrics["params"]["holdout"] == 10
            assert metrics["params"]["output_dir"] == str(results / f"mlp-k10-seed{seed}")  # not the worker's tmp
            assert len(metrics["exhaustive"]["heldout"]) == 10 and metrics["history"][0]["epoch"] == 1
            notebook = (notebooks / f"mlp-k10-seed{seed}.ipynb").read_text()
            assert json.loads(notebook)["cells"]
            assert f"{max(1, os.cpu_count() // 2)} threads" in notebook  # the cores shared by the 2 workers
        assert not (results / "bad-seed1").exists()
        first = {p: p.stat().st_mtime_ns for p in results.glob("*/metrics.json")}

        submitted.clear()
        again = sweep.run_sweep(runs, cluster, results, notebooks)
        assert submitted == ["bad"] and set(again) == {"bad-seed1"}
        assert {p: p.stat().st_mtime_ns for p in results.glob("*/metrics.json")} == first
    finally:
        cluster.submit = real_submit
    text = summary(load_results(results))
    assert "| mlp | binary | bits | 10 | 2 |" in text


@pytest.mark.slow
def test_a_local_cluster_starts_its_workers_on_127_0_0_1_and_stops_them():
    with sweep.dask_client(None, 2) as client:
        workers = client.scheduler_info()["workers"]
        assert len(workers) == 2 and all(address.startswith("tcp://127.0.0.1:") for address in workers)
        pids = set(client.run(os.getpid).values())
        assert os.getpid() not in pids
    deadline = time.monotonic() + 15
    while any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids):
        assert time.monotonic() < deadline, "local Dask workers still running"
        time.sleep(0.2)


@pytest.mark.parametrize("argv, message", [(["nosuch"], "unknown recipe"),
                                           (["default", "-p", "epoch", "3"], "unknown parameter"),
                                           (["default", "--workers", "0"], "--workers must be at least 1")])
def test_bad_command_lines_fail_before_anything_runs(argv, message, capsys):
    with pytest.raises(SystemExit):
        sweep.main(argv)
    assert message in capsys.readouterr().err


def test_patterns_and_parameters():
    assert [c for c in RECIPES if c.startswith("softmax-k")] == [f"softmax-k{k}" for k in HOLDOUT_COUNTS]
    assert sweep.parse_value("10") == 10 and sweep.parse_value("True") is True and sweep.parse_value("3d+7") == "3d+7"
    assert sweep.sweep_runs(["input-scalar-k50"], [2], {"epochs": 1}) == {
        "input-scalar-k50-seed2": {"number_input": "scalar", "holdout": 50, "epochs": 1, "seed": 2, "min_joint_acc": 0.0,
                                   "image_dir": None, "task": "digit_and_sum"}}
    assert sweep.sweep_runs(["add-exact-lenet-n4"], [7], {"epochs": 2}) == {
        "add-exact-lenet-n4-seed7": {"digits": 4, "method": "exact", "perception": "lenet", "epochs": 2, "lr": 0.01,
                                     "seed": 7, "min_sum_acc": 0.0, "task": "mnist_addition"}}
    with pytest.raises(ValueError, match="unknown parameter \\['holdout'\\] for add-exact-lenet-n4"):
        sweep.sweep_runs(["add-exact-lenet-n4"], [1], {"holdout": 3})  # a parameter of the other notebook
