"""Sweeps: a task's notebook through papermill for recipes x seeds, on a Dask cluster, then a summary.

    python sweep.py default softmax                    # those recipes, seeds 1 2 3, one local worker
    python sweep.py '*-k*' --workers 2                 # shell-style patterns; a local cluster of 2 workers
    python sweep.py '*-k*' --scheduler tcp://HOST:8786 # an existing cluster (dask scheduler / dask worker)
    python sweep.py default -p epochs 1 -p train_size 2000 --results runs/smoke   # a smoke sweep
    python sweep.py --study fresh-draws --workers 2    # a named sweep: its recipes, seeds and folder
    python sweep.py add-exact-mid-n1                   # an MNIST-addition recipe: into results/mnist_addition

Run `<recipe>-seed<k>` is one Dask task: a worker executes its task's notebook in a temporary folder and returns
its metrics and executed notebook (and with --keep-models its trained weights); the client writes
<results>/<run>/metrics.json and runs/sweep/<run>.ipynb (and <results>/<run>/model.pt) as each run arrives, so workers need the repository and MNIST (MNIST_DATA_DIR, or a
download) but no shared filesystem; a local cluster's sweep checks (or downloads) MNIST once before it starts, and
stops with the loader's message without it. A run whose metrics.json is complete is not repeated (--force repeats
it; one that finished with other settings stops the sweep before it starts, naming them); a run that fails is reported with its error at the end while the others finish, and the next
invocation repeats only the missing and failed runs. A results folder holds one task's runs (each task has its
own: results/ and results/mnist_addition/). Last, <results>/summary.md is written from everything in <results>/
by the task's own summary (helpers.studies.tasks), so re-running the command regenerates the tables the docs show.
"""
import argparse
import ast
import contextlib
import dataclasses
import fnmatch
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import cloudpickle
from distributed import Client, LocalCluster, as_completed
from tqdm import tqdm

from helpers.core.files import atomic_write, write_json
from helpers.core.mnist import MNISTDataError, ensure_mnist
from helpers.core.paths import RESULTS, ROOT, RUNS, relative_to_root
from helpers.core.runs import load_runs
from helpers.studies.plans import STUDIES
from helpers.studies.tasks import TASKS, task_of

NOTEBOOKS = RUNS / "sweep"


# ------------------------------------------------------------------------------------------- running

def worker_slots(addresses) -> dict[str, tuple[int, int]]:
    """Each worker's place among the workers on its machine: address -> (its index there, how many there are)."""
    hosts = Counter(urlparse(address).hostname for address in addresses)
    seen = Counter()
    slots = {}
    for address in sorted(addresses):
        host = urlparse(address).hostname
        slots[address] = (seen[host], hosts[host])
        seen[host] += 1
    return slots


def worker_device(asked: str, index: int, devices: list[str]) -> str:
    """The device a worker's runs train on: what the parameters ask for, but "auto" on a machine with accelerators is
    the worker's own (worker i of the machine takes accelerator i, round the list), so that workers do not all train
    on the first GPU."""
    accelerators = [d for d in devices if d != "cpu"]
    return accelerators[index % len(accelerators)] if asked == "auto" and accelerators else asked


def execute(parameters: dict, slots: dict, keep_model: bool = False) -> dict:
    """On a worker: run the notebook with `parameters` in a temporary folder; return its metrics and the
    executed notebook. Torch gets this machine's cores shared among the Dask workers on it, and each worker its own
    accelerator (`worker_device`).

    Sent to the cluster by value (below), and it imports the project only when it runs, on the worker: the
    scheduler, which deserializes every task, needs no more than the pinned packages."""
    import papermill
    from distributed import get_worker

    from helpers.core.device import available_devices
    from helpers.core.paths import ROOT
    from helpers.studies.tasks import TASKS
    index, workers = slots[get_worker().address]
    device = worker_device(parameters.get("device", "auto"), index, available_devices())
    threads = max(1, (os.cpu_count() or 1) // workers)
    # The notebook's kernel inherits the worker's environment, where Dask sets these threads to 1 (torch sizes
    # its pool by MKL's) and a malloc trim threshold that makes every training step fault its memory back in.
    os.environ.update({f"{lib}_NUM_THREADS": str(threads) for lib in ("OMP", "MKL", "OPENBLAS")})
    os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    parameters = dict(parameters)
    task = TASKS[parameters.pop("task")]
    with tempfile.TemporaryDirectory() as tmp:
        executed, out = Path(tmp) / "executed.ipynb", Path(tmp) / "run"
        try:
            papermill.execute_notebook(str(task.notebook), str(executed), cwd=str(ROOT), progress_bar=False,
                                       parameters={**parameters, "device": device, "output_dir": str(out)})
        except papermill.PapermillExecutionError as error:
            raise RuntimeError(f"{error.ename}: {error.evalue}") from None
        result = {"metrics": json.loads((out / "metrics.json").read_text()), "notebook": executed.read_text()}
        if keep_model:  # the weights (without the optimizer's state, where the checkpoint has one), as bytes
            slim = task.export(out / "model.pt", out / "slim.pt") if task.export else out / "model.pt"
            result["model"] = slim.read_bytes()
        return result


# Tasks travel as code, not as a reference to this module, which the scheduler does not have (see run_sweep).
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def differences(metrics: dict, parameters: dict, task) -> dict[str, tuple]:
    """The settings a run of `task` recorded that differ from the ones asked for: name -> (recorded, asked). Only
    settings that change what a run computes count, and not the precision ("auto" or "bf16|fp32" is recorded as what
    it resolved to), nor one neither run reads (its `read_with` setting off in both: when to restart, without
    restarts); a setting newer than the run counts as the value it ran with."""
    recorded, settings = task.upgrade(metrics)["params"], task.settings

    def read(f) -> bool:
        by = f.metadata.get("read_with")
        return not by or bool(recorded.get(by) or parameters.get(by))
    asked = {f: parameters[f.name] for f in dataclasses.fields(settings)
             if f.name in parameters and f.metadata["computes"] and f.name != "precision" and read(f)}
    was = {f: recorded.get(f.name, f.metadata.get("before", f.default)) for f in asked}
    return {f.name: (was[f], value) for f, value in asked.items() if was[f] != value}


def complete(run_dir: Path, parameters: dict | None = None) -> bool:
    """Whether a run finished: its metrics.json holds what its task's run writes at its end (`Task.finished`). A
    finished run with other settings than `parameters` is not the run asked for, and replacing it would lose a
    result: that is an error."""
    path = run_dir / "metrics.json"
    if not path.exists():
        return False
    metrics = json.loads(path.read_text())
    task = TASKS.get(metrics.get("task"))
    if task is None:
        raise ValueError(f"{relative_to_root(path)} names no task ({' or '.join(map(repr, TASKS))}): not a run of this "
                         "project's notebooks")
    done = task.finished(metrics)
    if done and parameters and (changed := differences(metrics, parameters, task)):
        said = ", ".join(f"{name} {was!r} there, {asked!r} asked" for name, (was, asked) in changed.items())
        raise ValueError(f"{relative_to_root(run_dir)} finished with other settings ({said}): "
                         "name another --results folder, or --force to replace it")
    return done


def run_sweep(runs: dict[str, dict], client, results: Path = RESULTS, notebooks: Path = NOTEBOOKS,
              force: bool = False, keep_models: bool = False) -> dict[str, str]:
    """Submit every run of `runs` (name -> notebook parameters) not complete in `results`; write each one
    as it arrives (with `keep_models`, its weights too). Returns the failed runs' errors by name."""
    todo = {name: parameters for name, parameters in runs.items() if force or not complete(results / name, parameters)}
    if len(todo) < len(runs):
        print(f"{len(runs) - len(todo)} of {len(runs)} runs done already in {results}", flush=True)
    slots = worker_slots(client.scheduler_info()["workers"])
    # Dask pickles the task graph with plain pickle when it can, which names `sweep.execute` by reference and the
    # scheduler cannot import it; a lambda makes it fall back to cloudpickle, which sends this module's code by value.
    task = lambda parameters, slots, keep: execute(parameters, slots, keep)  # noqa: E731
    futures = {client.submit(task, parameters, slots, keep_models, key=f"sweep-{name}-{os.urandom(4).hex()}"): name
               for name, parameters in todo.items()}
    failures = {}
    with tqdm(total=len(futures), desc="runs", unit="run", file=sys.stdout) as bar:
        for future in as_completed(list(futures)):
            name = futures[future]
            try:
                out = future.result()
            except Exception as error:  # the run's own error, raised again here by Dask
                failures[name] = f"{type(error).__name__}: {error}"
                bar.set_postfix_str(f"{name} failed")
            else:
                (results / name).mkdir(parents=True, exist_ok=True)
                # not the worker's temporary folder
                out["metrics"]["params"]["output_dir"] = relative_to_root(results / name)
                write_json(results / name / "metrics.json", out["metrics"])
                if "model" in out:
                    atomic_write(results / name / "model.pt", lambda tmp: tmp.write_bytes(out["model"]))
                notebooks.mkdir(parents=True, exist_ok=True)
                (notebooks / f"{name}.ipynb").write_text(out["notebook"])
                final = out["metrics"]["final"]
                score = f"joint {final['joint_acc']:.2%}" if "joint_acc" in final else f"sum {final['sum_acc']:.2%}"
                bar.set_postfix_str(f"{name}: {score}")
            bar.update()
    return failures


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int):
    """A Dask client of the cluster at `scheduler`, or of a local cluster of `workers` single-threaded worker
    processes on 127.0.0.1 (each run's torch then gets cores / workers threads), closed after."""
    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        yield client


def sweep_runs(configs: list[str], seeds: list[int], overrides: dict) -> dict[str, dict]:
    """Run name -> notebook parameters (with "task": which task's notebook runs it), for every recipe x seed; what
    every sweep run of its task sets (`Task.fixed`) last."""
    runs = {}
    for seed in seeds:
        for config in configs:
            task = task_of(config)
            names = [f.name for f in dataclasses.fields(task.settings)]
            if unknown := set(overrides) - set(names):
                raise ValueError(f"unknown parameter {sorted(unknown)} for {config}; its notebook's are {', '.join(names)}")
            parameters = {**task.recipes[config], **overrides, "seed": seed, **task.fixed, "task": task.name}
            # papermill injects lists, not tuples (a tuple would arrive as its text)
            runs[f"{config}-seed{seed}"] = {k: list(v) if isinstance(v, tuple) else v for k, v in parameters.items()}
    return runs


# ------------------------------------------------------------------------------------------- command line

def parse_value(text: str):
    """A parameter's value as Python reads it (10, 0.5, True, None, "3d+7"); anything else is a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def plan(argv=None) -> tuple[argparse.Namespace, dict[str, dict]]:
    """The command line read: its arguments and the runs it names (run name -> notebook parameters), checked
    (unknown names and parameters, and finished runs with other settings, stop it here with the reason)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="*", metavar="RECIPE",
                        help="names or shell patterns of the tasks' RECIPES (default: all of the primary task's)")
    parser.add_argument("--study", choices=sorted(STUDIES),
                        help="a named sweep (STUDIES): its recipes, seeds, results folder and any parameters it sets")
    parser.add_argument("--seeds", nargs="+", type=int, help="default: 1 2 3, or the study's")
    parser.add_argument("--keep-models", action="store_true", help="also write each run's weights to <results>/<run>/model.pt")
    parser.add_argument("--force", action="store_true", help="repeat runs that have results already")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override a notebook parameter for every run, e.g. -p val_size 10000")
    parser.add_argument("--device", help="the notebook's device for every run (default: its own, 'auto')")
    parser.add_argument("--results", type=Path, help="where the runs' metrics go (default: the study's folder, else the "
                                                     "task's: results/ or results/mnist_addition/ in the repository)")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="where executed notebooks go (default: runs/sweep/ in the repository)")
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument("--workers", type=int, default=1, help="local Dask workers (default 1)")
    cluster.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    args = parser.parse_args(argv)
    study = STUDIES.get(args.study, {})
    args.configs = args.configs or study.get("configs", [])
    args.seeds = args.seeds or study.get("seeds", [1, 2, 3])
    named = [name for task in TASKS.values() for name in task.recipes]
    configs = ([c for c in named if any(fnmatch.fnmatchcase(c, p) for p in args.configs)] if args.configs
               else list(TASKS["digit_and_sum"].recipes))
    if unmatched := [p for p in args.configs if not any(fnmatch.fnmatchcase(c, p) for c in named)]:
        parser.error(f"unknown recipe {unmatched}; choose from {', '.join(named)}")
    if len(tasks := {task_of(c).name for c in configs}) > 1:
        parser.error(f"{', '.join(configs)} are recipes of {' and '.join(sorted(tasks))}: a results folder holds one "
                     "task's runs, so sweep each task on its own")
    task = task_of(configs[0])
    args.task, args.results = task.name, args.results or ROOT / study.get("results", task.results)
    if other := [name for name in TASKS if name != task.name and load_runs(args.results, name)]:
        parser.error(f"{relative_to_root(args.results)} holds runs of {other[0]}: a results folder holds one task's "
                     f"runs (the {task.name} runs' own is {task.results})")
    overrides = {**study.get("params", {}), **{name: parse_value(value) for name, value in args.p}}
    if args.device:
        overrides["device"] = args.device
    try:
        runs = sweep_runs(configs, args.seeds, overrides)
        if not args.force:  # a finished run with other settings stops the sweep here, before a cluster starts
            for name, parameters in runs.items():
                complete(args.results / name, parameters)
    except ValueError as error:
        parser.error(str(error))
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args, runs


def main(argv=None) -> int:
    args, runs = plan(argv)
    if not args.scheduler:  # a local cluster: MNIST checked (or downloaded) once here, not by every worker at once
        try:
            ensure_mnist(next(iter(runs.values()), {}).get("data_dir"))
        except MNISTDataError as error:
            print(f"sweep.py: {error}", file=sys.stderr)
            return 2
    args.results.mkdir(parents=True, exist_ok=True)
    with dask_client(args.scheduler, args.workers) as client:
        failures = run_sweep(runs, client, args.results, args.notebooks, args.force, args.keep_models)
    command = "python sweep.py " + " ".join(sys.argv[1:] if argv is None else argv)
    summary = TASKS[args.task].summary(args.results, command)
    if summary is None:  # an empty table would read as a result
        print(f"sweep.py: no finished run in {relative_to_root(args.results)}: no summary written", file=sys.stderr)
    else:
        (args.results / "summary.md").write_text(summary)
        print(summary)
    for name, error in failures.items():
        print(f"FAILED {name}: {error}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} run(s) failed; run the same command again to repeat only those.", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
