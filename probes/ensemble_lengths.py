"""Issue 39, points 1 and 4, on the kept models of a length study: each run's frozen model (its learned table and its
self-trained perception, `add-learned-mid-n2-relabel`) with K - 1 further perceptions, trained as its relabelled
epochs trained its own (`relabel.relabelled`, `member` 1 .. K - 1: their own seeds) on the training images' digits as
the kept model's program reads them from the sums, all K read as one (`model.Ensemble`: mean probabilities), and
evaluated at every N as lengths.py evaluates a model. The ensemble was chosen on the validation split
(probes/self_training.py --members, seeds 301-303), where the members trained on the reading of the learned model's own
perception (before any relabelling); that perception is not kept with a run, so here they read the kept one's
(`--chained` there checks the difference). Digit labels are read only to score.

    python probes/ensemble_lengths.py results/mnist_addition/lengths-relabel-r5 --members 2

Writes <out>/<run>/lengths.json and metrics.json (the run's own, its `final` and `versions` the kept model's; the
members' training, with this probe's versions, under "ensemble") and
<out>/summary.md (`lengths_summary`; `--summary-only` writes it again from those files). <out>:
<folder>-ensemble<K>.
"""
import argparse
import json
import sys
from pathlib import Path

import torch

from helpers.core.checkpoints import write_json
from helpers.core.device import full_fp32
from helpers.core.mnist import MNISTDataError, load_mnist
from helpers.core.paths import ROOT
from helpers.core.provenance import versions
from helpers.mnist_addition.data import prepare_addition
from helpers.mnist_addition.lengths import (LENGTHS, MIN_SUMS, evaluate_lengths, exact_at_n, lengths_summary,
                                            load_addition_model)
from helpers.mnist_addition.model import Ensemble
from helpers.mnist_addition.relabel import relabelled
from helpers.mnist_addition.training import AdditionConfig
from helpers.studies.plans import STUDIES


def with_members(path: Path, members: int, splits, lengths=LENGTHS, min_sums: int = MIN_SUMS,
                 device: str | None = None) -> tuple[dict, dict]:
    """The kept model at `path` and `members` - 1 further perceptions on its reading, trained on `device` (None: the
    run's) in the run's precision and evaluated at every N of `lengths`: (lengths.json, metrics.json). A model whose
    table is not addition on its classes gets none (the record says so) and is evaluated alone."""
    model, params = load_addition_model(path)
    if not params.get("relabel_epochs"):
        raise ValueError(f"{path}: a run without relabelled epochs has no recipe for further members")
    config, _ = AdditionConfig(**{**params, "device": device or params["device"]}).resolution()
    metrics, on = json.loads((path.parent / "metrics.json").read_text()), torch.device(config.device)
    data = prepare_addition(params["digits"], params["seed"], params["val_size"], train_pairs=params["train_pairs"],
                            splits=splits).to(on)
    model.to(on)
    print(f"{path.parent.name}: trained at N = {params['digits']}, seed {params['seed']}; {members - 1} more on "
          f"{config.device} ({config.precision})", flush=True)
    with full_fp32(on, config.precision):
        students = [relabelled(model, config, data, member=k) for k in range(1, members)]
    if any("skipped" in record for _, record in students):
        metrics["ensemble"] = {"members": 1, "skipped": students[0][1]["skipped"], "seconds": 0}
    else:
        model.network = Ensemble([model.network, *(student.network for student, _ in students)]).eval()
        records = [{**record, "member": k} for k, (_, record) in enumerate(students, 1)]
        metrics["ensemble"] = {"members": members, "labels": "the kept model's reading", "trained": records,
                               "precision": config.precision, "versions": versions(config.device),
                               "seconds": sum(h["seconds"] for r in records for h in r["history"])}
    return evaluate_lengths(model, data, params["seed"], lengths, min_sums), metrics


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a length study's results folder, its runs' model.pt kept")
    parser.add_argument("--members", type=int, default=2, help="perceptions in each ensemble, the kept one included")
    parser.add_argument("--out", type=Path, help="where the results go (default: <folder>-ensemble<members>)")
    parser.add_argument("--digits", type=int, nargs="+", default=list(LENGTHS), help="the N to evaluate at")
    parser.add_argument("--min-sums", type=int, default=MIN_SUMS, help="re-paired test sums per N, at least")
    parser.add_argument("--device", help="where the members train (default: where each run trained)")
    parser.add_argument("--summary-only", action="store_true",
                        help="only write <out>/summary.md again from the runs' files already there (trains nothing)")
    args = parser.parse_args(argv)
    if args.members < 2:
        parser.error("--members must be at least 2: the kept model and one more")
    out = args.out or args.folder.with_name(f"{args.folder.name}-ensemble{args.members}")
    models = sorted(args.folder.glob("*/model.pt"))
    if args.summary_only:
        runs = sorted(path.parent for path in out.glob("*/lengths.json"))
        if not runs:
            parser.error(f"no */lengths.json in {out} to summarize")
    elif not models:
        parser.error(f"no */model.pt in {args.folder} (run sweep.py with --keep-models first)")
    else:
        try:
            splits = load_mnist(None, download=True)
        except MNISTDataError as error:
            print(f"ensemble_lengths.py: {error}", file=sys.stderr)
            return 2
        for path in models:
            lengths, metrics = with_members(path, args.members, splits, args.digits, args.min_sums, args.device)
            (out / path.parent.name).mkdir(parents=True, exist_ok=True)
            write_json(out / path.parent.name / "lengths.json", lengths)
            write_json(out / path.parent.name / "metrics.json", metrics)
        runs = [out / path.parent.name for path in models]  # this call's runs only, not an earlier call's left in out
    study = next((name for name, plan in STUDIES.items()
                  if (ROOT / plan["results"]).resolve() == args.folder.resolve()), None)
    folder = args.folder.resolve().relative_to(ROOT) if args.folder.resolve().is_relative_to(ROOT) else args.folder
    command = (f"python probes/ensemble_lengths.py {folder} --members {args.members}"
               + (f" --digits {' '.join(map(str, args.digits))}" if args.digits != list(LENGTHS) else "")
               + (f" --min-sums {args.min_sums}" if args.min_sums != MIN_SUMS else ""))
    summary = lengths_summary([json.loads((run / "lengths.json").read_text()) for run in runs],
                              [json.loads((run / "metrics.json").read_text()) for run in runs],
                              exact_at_n(ROOT / "results/mnist_addition"), study, command)
    (out / "summary.md").write_text(summary)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
