"""Length generalization: every kept MNIST-addition model of a results folder, frozen, evaluated at other N.

    python lengths.py                                  # results/mnist_addition/lengths: N = 2, 4, 15, 100, 200, 500
    python lengths.py runs/smoke --digits 2 4 --min-sums 500

Each run folder with a model.pt (`python sweep.py --study addition-lengths --keep-models` writes them) gets
lengths.json: the frozen model at every N on the protocol's test pairs for its seed and on re-pairings of the test
images (helpers.mnist_addition.lengths); then <folder>/summary.md is written from every lengths.json there, beside
the published table and the exact program trained at each N (results/mnist_addition/summary.md's runs).
"""
import argparse
import json
import sys
from pathlib import Path

from helpers.core.checkpoints import write_json
from helpers.core.mnist import MNISTDataError, load_mnist
from helpers.core.paths import ROOT
from helpers.mnist_addition.data import prepare_addition
from helpers.mnist_addition.lengths import (LENGTHS, MIN_SUMS, evaluate_lengths, exact_at_n, lengths_summary,
                                            load_addition_model)
from helpers.studies.plans import STUDIES


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, nargs="?", default=ROOT / "results/mnist_addition/lengths")
    parser.add_argument("--digits", type=int, nargs="+", default=list(LENGTHS), help="the N to evaluate at")
    parser.add_argument("--min-sums", type=int, default=MIN_SUMS, help="re-paired test sums per N, at least")
    parser.add_argument("--exact", type=Path, default=ROOT / "results/mnist_addition",
                        help="the results folder of the exact program's runs at each N")
    args = parser.parse_args(argv)
    models = sorted(args.folder.glob("*/model.pt"))
    if not models:
        print(f"lengths.py: no */model.pt in {args.folder} (run sweep.py with --keep-models first)", file=sys.stderr)
        return 2
    try:
        splits = load_mnist(None, download=True)
    except MNISTDataError as error:
        print(f"lengths.py: {error}", file=sys.stderr)
        return 2
    for path in models:
        model, params = load_addition_model(path)
        print(f"{path.parent.name}: trained at N = {params['digits']}, seed {params['seed']}")
        data = prepare_addition(params["digits"], params["seed"], params["val_size"], splits=splits)
        write_json(path.parent / "lengths.json", evaluate_lengths(model, data, params["seed"], args.digits,
                                                                  args.min_sums))
    runs = sorted(args.folder.glob("*/lengths.json"))
    lengths = [json.loads(p.read_text()) for p in runs]
    metrics = [json.loads((p.parent / "metrics.json").read_text()) for p in runs]
    study = next((name for name, plan in STUDIES.items() if (ROOT / plan["results"]).resolve() == args.folder.resolve()),
                 None)
    summary = lengths_summary(lengths, metrics, exact_at_n(args.exact), study)
    (args.folder / "summary.md").write_text(summary)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
