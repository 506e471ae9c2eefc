"""Issue 39, point 4, on the validation split: does a second training on the program's own reading of the training
pairs lift `learned`'s per-digit accuracy (trained at N = 2 from sums alone) towards 99.75 %?

For each seed's model of probes/perception_views.py (results/validation/mnist_addition/perception-views/seed*/,
the named recipe `add-learned-mid-n2`), the training images get pseudo-labels from the sums alone: each training
pair's most probable digits under the model's perception that its own learned table says add up to the observed sum
(`helpers.mnist_addition.relabel.constrained_labels`; a digit read wrong mostly changes the sum, so the sum corrects
it). Then a perception trains
on those labels with cross-entropy and the same augmentation and one-cycle AdamW: fine-tuned from the model
(`--from model`) or from a fresh initialisation (`--from scratch`), `--members K` fresh ones on other seeds read as
an ensemble (their digit probabilities averaged; `--chained`: those after the first train on the first one's reading
of the sums, as probes/ensemble_lengths.py's train on a kept model's). Digit labels only score: the pseudo-labels' accuracy and the
validation images' digit accuracy after every epoch. Appends a variant to self-training.json and
rewrites summary.md under results/validation/mnist_addition/self-training/.

    python probes/self_training.py 301 302 303 --from model --epochs 5 --lr 0.003
    python probes/self_training.py 301 302 303 --from scratch --epochs 15 --lr 0.01 --smoothing 0.1 --members 2
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from helpers.core.augment import random_affine
from helpers.core.paths import RESULTS
from helpers.core.training import make_optimizer, optimizer_step, seed_epoch
from helpers.mnist_addition.data import prepare_addition
from helpers.mnist_addition.lengths import load_addition_model
from helpers.mnist_addition.model import perception
from helpers.mnist_addition.relabel import constrained_labels, program_values
from perception_views import OUT as MODELS

OUT = RESULTS / "validation" / "mnist_addition" / "self-training"


@torch.no_grad()
def value_log_probabilities(network, images: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """(M, 10) log probabilities over digit values (column v: the class whose value is v), in eval mode."""
    network.eval()
    logits = torch.cat([network(images[i:i + 2000].contiguous(memory_format=torch.channels_last))
                        for i in range(0, len(images), 2000)])
    return logits.log_softmax(-1)[:, values.argsort()]


def self_train(network, images, labels, seed: int, epochs: int, lr: float, background: float, evaluate,
               elastic: float = 0.0, smoothing: float = 0.0) -> list:
    """Cross-entropy on `labels` (classes, -1 ignored; label smoothing `smoothing`), random affine augmentation (with
    `elastic` bends), AdamW one-cycle, batch 512; the validation digit accuracy (`evaluate`) after every epoch."""
    keep = (labels >= 0).nonzero()[:, 0]
    steps = -(-len(keep) // 512)
    optimizer, scheduler = make_optimizer(network.parameters(), lr, 0.01, epochs, steps)
    history = []
    for epoch in range(1, epochs + 1):
        generator = seed_epoch(seed + 7_000, epoch)
        order = keep[torch.randperm(len(keep), generator=generator)]
        start = time.perf_counter()
        network.train()
        for step in range(steps):
            idx = order[step * 512:(step + 1) * 512]
            x = random_affine(images[idx], generator, background, elastic=elastic)
            loss = F.cross_entropy(network(x.contiguous(memory_format=torch.channels_last)), labels[idx],
                                   label_smoothing=smoothing)
            optimizer_step(loss, optimizer, scheduler)
        history.append({"epoch": epoch, "seconds": time.perf_counter() - start, "digit_acc": evaluate(network)})
        print(f"  epoch {epoch}: digit {history[-1]['digit_acc']:.2%} ({history[-1]['seconds']:.0f} s)", flush=True)
    return history


def main(seeds: list[int], start: str, epochs: int, lr: float, net: str, elastic: float, smoothing: float,
         members: int = 1, chained: bool = False) -> None:
    name = (f"from {start}" + (f" ({net})" if start == "scratch" else "") + f", {epochs} epochs, lr {lr}"
            + (f", elastic {elastic}" if elastic else "") + (f", smoothing {smoothing}" if smoothing else "")
            + (f", ensemble of {members}" if members > 1 else "")
            + (", the others on the first member's reading" if chained else ""))
    variant = {"name": name, "seeds": {}}
    for seed in seeds:
        model, _ = load_addition_model(MODELS / f"seed{seed}" / "model.pt")
        first = json.loads((MODELS / f"seed{seed}" / "metrics.json").read_text())
        values = program_values(model)
        data = prepare_addition(2, seed, val_size=10_000)
        background = (0 - data.mean) / data.std
        truth = data.eval_digits

        def evaluate(network):
            return (value_log_probabilities(network, data.eval_x, values).argmax(-1) == truth).float().mean().item()

        log_p = value_log_probabilities(model.network, data.train_x, values)
        labels = constrained_labels(log_p, data.train_pairs, data.train_sums)
        used = labels >= 0
        row = {"first_seconds": first["train_seconds"], "before": evaluate(model.network),
               "plain_label_acc": (log_p.argmax(-1)[used] == data.train_digits[used]).float().mean().item(),
               "label_acc": (labels[used] == data.train_digits[used]).float().mean().item(),
               "changed": (labels[used] != log_p.argmax(-1)[used]).sum().item()}
        print(seed, row, flush=True)
        classes = torch.where(used, values.argsort()[labels.clamp(0)], -1)  # the model's classes stay its own
        row["members"], ensemble = [], 0
        for k in range(members):  # member 0 on the seed itself: the variant without members, repeated
            torch.manual_seed(seed + 1000 * k)
            network = model.network if start == "model" else perception(net).to(memory_format=torch.channels_last)
            history = self_train(network, data.train_x, classes, seed + 1000 * k, epochs, lr, background, evaluate,
                                 elastic, smoothing)
            row["members"].append({"history": history, "digit_acc": history[-1]["digit_acc"],
                                   "seconds": sum(h["seconds"] for h in history)})
            if chained and k == 0:  # the others read the sums through this member, as ensemble_lengths.py's do
                read = constrained_labels(value_log_probabilities(network, data.train_x, values), data.train_pairs,
                                          data.train_sums)
                row["member_label_acc"] = (read[used] == data.train_digits[used]).float().mean().item()
                row["member_changed"] = (read[used] != labels[used]).sum().item()
                classes = torch.where(read >= 0, values.argsort()[read.clamp(0)], -1)
            ensemble = ensemble + value_log_probabilities(network, data.eval_x, values).exp() / members
        row["after"] = (ensemble.argmax(-1) == truth).float().mean().item()
        row["seconds"] = sum(m["seconds"] for m in row["members"])
        variant["seeds"][seed] = row
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "self-training.json"
    report = json.loads(path.read_text()) if path.exists() else []
    earlier = next((v for v in report if v["name"] == name), {"seeds": {}})  # a variant's seeds may run apart
    variant["seeds"] = {**earlier["seeds"], **{str(s): row for s, row in variant["seeds"].items()}}
    report = [v for v in report if v["name"] != name] + [variant]
    path.write_text(json.dumps(report, indent=1))
    (OUT / "summary.md").write_text(summary(report))


def summary(report: list) -> str:
    """Every variant's digit accuracy before and after, per seed and mean, as a Markdown table."""
    def row(label: str, accuracies: list, seconds: list) -> str:
        return (f"| {label} | " + " | ".join(f"{100 * a:.2f}" for a in accuracies)
                + f" | {100 * statistics.mean(accuracies):.2f} | {statistics.mean(seconds):.0f} |")

    rows = []
    for v in report:
        runs = list(v["seeds"].values())
        rows.append(row(v["name"], [r["after"] for r in runs], [r["seconds"] for r in runs]))
        members = len(runs[0].get("members", []))
        for k in range(members if members > 1 else 0):  # an ensemble: its members alone, beside it
            rows.append(row(f"{v['name']}: member {k + 1} alone", [r["members"][k]["digit_acc"] for r in runs],
                            [r["members"][k]["seconds"] for r in runs]))
    first = report[0]["seeds"]
    return "\n".join([
        "# Training again on the program's own reading of the sums (validation split)", "",
        "The models of `perception-views` (learned, mid, N = 2, the named recipe; seeds " + ", ".join(map(str, first)) + ")."
        " Pseudo-labels of the training images from the sums alone: each pair's most probable digits that the model's"
        " own table adds to the observed sum. Digit accuracy (%) on the 10,000 validation images; labels only score.", "",
        "Each row: `python probes/self_training.py " + " ".join(map(str, first)) + " --from model|scratch [--net NET]"
        " --epochs E --lr LR [--smoothing S] [--members K [--chained]]` (seconds: the second training's, mean per seed;"
        " an ensemble's, every member's).", "",
        "| seed | before | training images read right: plain | constrained | changed by the sum |", "|---|---|---|---|---|",
        *(f"| {s} | {100 * r['before']:.2f} | {100 * r['plain_label_acc']:.3f} | {100 * r['label_acc']:.3f} | "
          f"{r['changed']} |" for s, r in first.items()), "",
        "| second training | " + " | ".join(f"seed {s}" for s in first) + " | mean | seconds |",
        "|---|" + "---|" * (len(first) + 2), *rows, "", *chained_reading(report)])


def chained_reading(report: list) -> list[str]:
    """For each `--chained` variant, how well its first member read the training images through the sums (over the
    images in a training pair, as the model's own reading is scored)."""
    return [f"{v['name']}: the first member's constrained reading has "
            + ", ".join(f"{100 * r['member_label_acc']:.3f} %" for r in v["seeds"].values())
            + " of the training images right (" + ", ".join(str(r["member_changed"]) for r in v["seeds"].values())
            + " labels other than the model's reading).\n" for v in report
            if all("member_label_acc" in r for r in v["seeds"].values())]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seeds", type=int, nargs="+")
    parser.add_argument("--from", dest="start", choices=("model", "scratch"), default="model")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--net", default="mid", help="the perception trained from scratch")
    parser.add_argument("--elastic", type=float, default=0.0, help="random_affine's elastic bends, pixels")
    parser.add_argument("--smoothing", type=float, default=0.0, help="label smoothing")
    parser.add_argument("--members", type=int, default=1, help="fresh perceptions read as an ensemble (--from scratch)")
    parser.add_argument("--chained", action="store_true",
                        help="members after the first train on the first member's constrained reading (as "
                             "probes/ensemble_lengths.py's read a kept model's), not the model's")
    args = parser.parse_args()
    if args.members < 1:
        parser.error("--members must be at least 1")
    if args.members > 1 and args.start != "scratch":
        parser.error("--members needs --from scratch: the model itself is one network")
    if args.chained and args.members < 2:
        parser.error("--chained needs --members 2 or more")
    main(args.seeds, args.start, args.epochs, args.lr, args.net, args.elastic, args.smoothing, args.members,
         args.chained)
