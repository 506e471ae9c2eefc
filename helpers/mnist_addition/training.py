"""MNIST addition: a run's settings (AdditionConfig), training from the sums alone, evaluation, metrics.json.

Built from the core's pieces, as the primary task's loop is: settings checked on construction, the device and
precision resolved by what the device computes, images on the device as one tensor, seeded CPU draws moved with
`to_device`, random affine augmentation, AdamW with a one-cycle schedule, each epoch's loss weighted by its samples,
checkpoints in the core's format, provenance in every metrics.json. Its own are the restarts and the curricula.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..core.augment import random_affine
from ..core.backbones import DEFAULT_PRECISION
from ..core.checkpoints import save_state, write_json
from ..core.device import autocast, full_fp32, stopwatch, to_device
from ..core.provenance import versions
from ..core.settings import Settings, check_fields, setting
from ..core.training import SCHEDULES, epoch_loss, make_optimizer, optimizer_step, seed_epoch
from .data import AdditionData
from .evaluation import evaluate_addition
from .model import METHODS, PERCEPTIONS, AdditionModel
from .relabel import relabelled

ADDITION_FORMAT = "neural-network-on-steroids/mnist-addition/1"
TASK = "mnist_addition"  # metrics.json and model.pt say which task wrote them


# A run that found no digits (it reads them relabelled, d + 5 or a neighbour) shows it in its training loss, which
# needs no digit label. Near the end of an epoch, -log P per scored sum digit was (the logged steps of the committed
# runs, exact, mid): at steps 50 and 100 of epoch 2 at N = 15, 0.05-0.18 in every run that learned and 0.86-1.10 in
# every one that did not; at N = 100 with adjacent_first (the surrogate's unknown carry keeps a good run near 0.45),
# at step 100 of epoch 1 and step 0 of epoch 2, 0.44-0.61 against 1.13-1.73 (33 attempts, test seeds 6-15 and
# validation). `restarts` starts such a run again from a new initialisation, reading the loss over the last quarter
# of epoch `restart_epoch`'s steps.
RESTART_EPOCH, RESTART_LOSS = 2, 0.7


@dataclass(frozen=True)
class AdditionConfig(Settings):
    """An MNIST-addition run's settings, typed and checked (notebooks/mnist_addition.ipynb's parameters cell and the
    table of docs/mnist_addition.md are written from them)."""

    digits: int = setting(1, "N: digits per number; each pair is 2N images and the sum of two N-digit numbers")
    method: str = setting("exact", '"exact" (the addition program), "learned" (its cell learned too) or "neural"')
    perception: str = setting("mid", '"lenet" (DeepProbLog\'s network), or a backbone of the project: "bn", "mid", ...')
    seed: int = setting(1, "seeds the pairs, the initialisation, the order and the augmentation")
    epochs: int = setting(10, "passes over the training pairs")
    batch_size: int = setting(512, "images per training step (whole pairs: at least one)")
    lr: float = setting(0.01, "peak learning rate of the one-cycle schedule (AdamW)")
    weight_decay: float = setting(0.01, "AdamW's weight decay (not on the learned cell's table)")
    schedule: str = setting("onecycle", '"onecycle" (peaking at lr) or "constant" (lr throughout: A-NeSI\'s Adam)',
                            before="onecycle")
    augment: bool = setting(True, "random rotation, scale and shift of every training image")
    cell_init: float = setting(0.0, "learned: the std of the cell's initial logits (0: a uniform table)")
    balance: float = setting(0.0, "> 0: that weight times KL(mean digit distribution || uniform) added to the loss")
    lowest_first: int = setting(0, "> 0: train on the sum's lowest digits first, 4 in epoch 1, all from this epoch on")
    adjacent_first: int = setting(0, "> 0: before this epoch train on every two adjacent sum digits, then on the sum")
    restarts: int = setting(0, "> 0: up to this many fresh starts of a run whose training loss over the last quarter "
                               "of epoch `restart_epoch` is above `restart_loss` per sum digit (it found no digits)")
    restart_epoch: int = setting(RESTART_EPOCH, "the epoch after which `restarts` reads the training loss",
                                 read_with="restarts")
    restart_loss: float = setting(RESTART_LOSS, "the training loss per sum digit above which `restarts` starts again",
                                  read_with="restarts")
    relabel_epochs: int = setting(0, "> 0: then that many epochs of a fresh perception trained on the training images' "
                                     "digits as the program reads them from the sums (relabel.py)", before=0)
    relabel_perception: str = setting("mid", "the perception those epochs train; the program stays the run's",
                                      before="mid", read_with="relabel_epochs")
    relabel_lr: float = setting(0.01, "peak learning rate of those epochs (one-cycle AdamW)", before=0.01,
                                read_with="relabel_epochs")
    frozen_at: tuple = setting((), "N at which to evaluate the trained model, frozen, e.g. [4, 15, 100] "
                                   "(papermill -y): lengths.py's test sets, into lengths.json", computes=False)
    precision: str = setting("bf16|fp32", '"fp32", "bf16", "bf16|fp32" or "auto": as in the primary notebook')
    device: str = setting("auto", '"auto": the accelerator if there is one, else the CPU; or "cpu", "cuda:1" ...',
                          computes=False)
    val_size: int = setting(0, "> 0: evaluate on pairs of a validation split of this many training images")
    train_pairs: int | None = setting(None, "None: every training pair; P: only the first P (smoke runs)")
    log_interval: int = setting(50, "training steps between log lines", computes=False)
    data_dir: str | None = setting(None, "MNIST's folder; None: $MNIST_DATA_DIR, else data/ in the repository",
                                   computes=False)
    output_dir: str | None = setting(None, "where model.pt and metrics.json go; None: runs/mnist-addition",
                                     computes=False)
    min_sum_acc: float = setting(0.0, "the notebook's last cell fails below this sum accuracy", computes=False)

    def __post_init__(self):
        check_fields(self, positive=("digits", "epochs", "batch_size", "log_interval", "restart_epoch"),
                     non_negative=("seed", "val_size", "lowest_first", "adjacent_first", "restarts", "relabel_epochs"),
                     ranges={"lr": (math.inf, "a non-negative number"), "weight_decay": (math.inf, "a non-negative number"),
                             "cell_init": (math.inf, "a non-negative number"), "balance": (math.inf, "a non-negative number"),
                             "restart_loss": (math.inf, "a non-negative number"),
                             "relabel_lr": (math.inf, "a non-negative number"),
                             "min_sum_acc": (1.0000001, "a number in [0, 1]")},
                     flags=("augment",), paths=("data_dir", "output_dir"), optional_positive=("train_pairs",))
        for key, value, choices in (("method", self.method, METHODS), ("perception", self.perception, PERCEPTIONS),
                                    ("schedule", self.schedule, SCHEDULES),
                                    ("relabel_perception", self.relabel_perception, PERCEPTIONS)):
            if value not in choices:
                raise ValueError(f"{key} must be one of {list(choices)}, got {value!r}")
        if self.restarts and self.restart_epoch > self.epochs:
            raise ValueError(f"restart_epoch {self.restart_epoch} is after the last epoch ({self.epochs}): restarts "
                             f"would never be read")
        if self.precision == "fp64":
            raise ValueError("precision 'fp64' is the primary task's reference runs' (tests/README.md); MNIST addition "
                             "computes in 'fp32', 'bf16', 'bf16|fp32' or 'auto'")
        if self.relabel_epochs and self.method == "neural":
            raise ValueError("relabel_epochs needs a program that reads digits (method 'exact' or 'learned'): the "
                             "neural baseline has none")
        if not isinstance(self.frozen_at, (list, tuple)) or not all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in self.frozen_at):
            raise ValueError(f"frozen_at must be a list of positive ints (the N to add at), got {self.frozen_at!r}")
        object.__setattr__(self, "frozen_at", tuple(self.frozen_at))  # papermill and JSON give lists
        if self.frozen_at and self.method == "neural":
            raise ValueError("frozen_at needs a program to apply at another N (method 'exact' or 'learned'): the "
                             "neural baseline has none")
        if self.frozen_at and 2 * max(self.frozen_at) > (self.val_size or 10_000):
            raise ValueError(f"frozen_at {max(self.frozen_at)} needs {2 * max(self.frozen_at)} evaluation images; the "
                             f"evaluation split has {self.val_size or 10_000}")
        if self.lowest_first and self.adjacent_first:
            raise ValueError("lowest_first and adjacent_first are two curricula: set one of them, not both")

    DEFAULT_OUTPUT = "mnist-addition"

    def preferred_precision(self) -> tuple[str, str]:
        """"auto" is the perception's precision: a backbone's (`DEFAULT_PRECISION`), fp32 for DeepProbLog's LeNet."""
        return DEFAULT_PRECISION.get(self.perception, "fp32"), f"the {self.perception} perception's default"


def make_addition_training(config: AdditionConfig, data: AdditionData, device="cpu", attempt: int = 0):
    """Seeded model (initialised on the CPU, then moved; `attempt` > 0: a restart's own initialisation), AdamW (no
    weight decay on the learned cell's table: a probability table, not a weight) and a one-cycle schedule over the
    run's steps."""
    torch.manual_seed(config.seed + 100_003 * attempt)
    model = AdditionModel(data.digits, config.method, config.perception, cell_init=config.cell_init).to(device)
    table = [model.cell.table] if model.cell is not None else []
    others = [p for p in model.parameters() if all(p is not t for t in table)]
    groups = [{"params": others}, *([{"params": table, "weight_decay": 0.0}] if table else [])]
    steps = math.ceil(len(data.train_pairs) / pairs_per_step(config, data.digits))
    optimizer, scheduler = make_optimizer(groups, config.lr, config.weight_decay, config.epochs, steps, device,
                                          config.schedule)
    return model, optimizer, scheduler


def pairs_per_step(config: AdditionConfig, digits: int) -> int:
    """Whole pairs in a step of about `batch_size` images (at least one pair)."""
    return max(1, config.batch_size // (2 * digits))


def part_trained(config: AdditionConfig, digits: int, epoch: int) -> int | str | None:
    """Which part of the sum epoch `epoch` trains on (None: all of it; `AdditionModel.loss`).
    `lowest_first`: the lowest digits, 4 in the first epoch, growing evenly to all N + 1 at epoch `lowest_first`; the
    lowest positions are the ones whose carry in is known best. Without a curriculum, at N = 100 (exact, mid,
    validation, seed 1) every digit settled on being read as a neighbour, d - 1 or d + 1; with this one, on 4 test
    seeds of 5 as d + 5, which the lowest digit, (a + b) mod 10, cannot tell from d.
    `adjacent_first`: every two adjacent digits (`adjacent_digits`) before epoch `adjacent_first`: each position's
    digits scored against its neighbour's, which no relabelling fits."""
    if config.adjacent_first and epoch < config.adjacent_first:
        return "adjacent"
    if not config.lowest_first or epoch >= config.lowest_first or digits + 1 <= 4:
        return None
    return 4 + (digits + 1 - 4) * (epoch - 1) // (config.lowest_first - 1)


def scored_digits(part: int | str | None, digits: int) -> int:
    """How many sum digits a loss over `part` (`part_trained`) scores, about: all N + 1, the lowest k, or N - 1
    adjacent pairs, halved."""
    return digits + 1 if part is None else part if isinstance(part, int) else max(digits - 1, 1)


def train_addition_epoch(model, data: AdditionData, optimizer, scheduler, epoch: int, config: AdditionConfig,
                         log=print) -> tuple[torch.Tensor, torch.Tensor, list]:
    """One pass over the training pairs in a seeded order (dropout seeded too); each step's loss is -log P(observed
    sum), mean over its pairs. Reads the images, the pairs and their sums: never a digit label. Returns the epoch's
    loss (each step's weighted by its pairs, `epoch_loss`), the mean of its last quarter of steps' losses (both on the
    device) and the logged lines."""
    generator = seed_epoch(config.seed, epoch)
    device, per_step = data.train_x.device, pairs_per_step(config, data.digits)
    order = to_device(torch.randperm(len(data.train_pairs), generator=generator), device)
    background = (0 - data.mean) / data.std
    model.train()
    losses, logged, part = [], [], part_trained(config, data.digits, epoch)
    steps = math.ceil(len(data.train_pairs) / per_step)
    for step in range(steps):
        idx = order[step * per_step:(step + 1) * per_step]
        pairs, sums = data.train_pairs[idx], data.train_sums[idx]
        images = data.train_x[pairs.flatten()]
        if config.augment:
            images = random_affine(images, generator, background)
        with autocast(device, config.precision):
            loss = model.loss(images.view(*pairs.shape, 1, 28, 28), sums, config.balance, part)
        losses.append(optimizer_step(loss, optimizer, scheduler))
        if step % config.log_interval == 0:  # the step's one wait for the device, every log_interval steps
            logged.append({"epoch": epoch, "step": step, "loss": losses[-1].item()})
            log(f"Train Epoch: {epoch} [{step}/{steps}]\tLoss (-log P(sum)): {logged[-1]['loss']:.4f}")
    sizes = [min(per_step, len(data.train_pairs) - step * per_step) for step in range(steps)]
    last_quarter = torch.stack(losses[len(losses) - math.ceil(len(losses) / 4):]).mean()  # read for a restart
    return epoch_loss(losses, sizes), last_quarter, logged


def addition_metrics(config: AdditionConfig, run_versions: dict, history: list, train_log: list, data: AdditionData,
                     result: dict, model, restarted: list = (), relabel: dict | None = None) -> dict:
    """metrics.json of an MNIST-addition run: settings, `run_versions` (read when it started, with why its precision),
    per-epoch history, the final sum and digit accuracy, training seconds (the restarted attempts' and the relabelled
    epochs' included), the attempts restarted (each with its own history and log lines), the relabelled epochs
    (`relabelled`'s record), and for the learned cell the table it learned (in digits)."""
    final = {k: result[k] for k in ("sum_acc", "digit_acc", "matched_digit_acc", "pairs") if k in result}
    metrics = {"task": TASK, "params": config.to_dict(),
               "versions": run_versions,
               "data": {"eval_set": data.eval_name, "train_pairs": len(data.train_pairs), "mean": data.mean,
                        "std": data.std},
               "history": history, "final": final, "restarts": list(restarted),
               "train_seconds": sum(h["seconds"] for h in [*history, *(e for r in restarted for e in r["history"]),
                                                           *(relabel or {}).get("history", [])]),
               "confusion": result.get("confusion"), "train_log": train_log,
               **({"relabel": relabel} if relabel is not None else {})}
    if model.cell is not None:
        metrics["cell"] = cell_report(model.cell, result["matching"])
    return metrics


@torch.no_grad()
def cell_report(cell, matching: list[int]) -> dict:
    """The learned cell read in digits: for every digit a, b and carry in, its most probable (sum digit, carry out).
    Its inputs are the perception's classes, mapped to digits by `matching` (digit d is class matching[d]); its sum
    digit is a digit already (the observed sums train it), so it is read as it is."""
    best = cell.probabilities().flatten(3).argmax(-1).cpu()  # [class a, class b, c_in] -> digit s * 2 + c_out
    table, right = [], 0
    for a in range(10):
        for b in range(10):
            for carry in range(2):
                code = best[matching[a], matching[b], carry].item()
                s, out = code // 2, code % 2
                right += (s, out) == ((a + b + carry) % 10, int(a + b + carry >= 10))
                table.append([a, b, carry, s, out])
    return {"table": table, "right": right, "entries": len(table)}


def save(out, config: AdditionConfig, model, epoch: int, data: AdditionData, perception: str | None = None) -> None:
    """model.pt: the model's weights, the run's settings, its perception (`perception`, else the settings'), its epoch
    and the normalization (atomically)."""
    save_state(out / "model.pt", {"format": ADDITION_FORMAT, "task": TASK, "params": config.to_dict(),
                                  "perception": perception or config.perception, "model": model.state_dict(),
                                  "epoch": epoch, "mean": data.mean, "std": data.std})


def fit_addition(config: AdditionConfig, data: AdditionData, log=print) -> dict:
    """Train for `config.epochs` from the sums alone, evaluating after each epoch; writes `{output_dir}/model.pt`
    (atomically, after every epoch) and `{output_dir}/metrics.json`. Returns the model, the metrics and the last
    evaluation."""
    if not isinstance(config, AdditionConfig):
        raise TypeError(f"fit_addition needs an AdditionConfig (helpers.mnist_addition.training), got {type(config).__name__}")
    config, why = config.resolution()
    run_versions = {**versions(config.device), "precision": why}  # read at the start: the code the run imported
    device = torch.device(config.device)
    out = config.output_path
    out.mkdir(parents=True, exist_ok=True)
    data = data.to(device)
    model, optimizer, scheduler = make_addition_training(config, data, device)
    history, train_log, restarted, attempt, epoch = [], [], [], 0, 0
    with full_fp32(device, config.precision):
        while epoch < config.epochs:
            epoch += 1
            elapsed = stopwatch(device)
            train_loss, last_quarter, logged = train_addition_epoch(model, data, optimizer, scheduler, epoch, config,
                                                                    log)
            train_loss = train_loss.item()
            seconds = elapsed()
            result = evaluate_addition(model, data)
            digit = f"  digit {result['digit_acc']:.2%}" if result["digit_acc"] is not None else ""
            log(f"Epoch {epoch}: sum {result['sum_acc']:.2%}{digit}  ({seconds:.1f} s)")
            history.append({"epoch": epoch, "train_loss": train_loss, "seconds": seconds, "sum_acc": result["sum_acc"],
                            "digit_acc": result["digit_acc"]})
            train_log += logged
            if (epoch == config.restart_epoch and attempt < config.restarts  # read only when it decides
                    and (per_digit := last_quarter.item() / scored_digits(part_trained(config, data.digits, epoch),
                                                                          data.digits)) > config.restart_loss):
                log(f"Restart {attempt + 1} of {config.restarts}: training loss {per_digit:.2f} per sum digit over the "
                    f"last quarter of epoch {epoch} (> {config.restart_loss}): no digits found; a new initialisation")
                restarted.append({"attempt": attempt, "loss_per_digit": per_digit, "history": history,
                                  "train_log": train_log})
                attempt, epoch, history, train_log = attempt + 1, 0, [], []
                model, optimizer, scheduler = make_addition_training(config, data, device, attempt)
                continue
            save(out, config, model, epoch, data)
        relabel = None
        if config.relabel_epochs:
            model, relabel = relabelled(model, config, data, log)
            if "skipped" not in relabel:
                result = evaluate_addition(model, data)
                save(out, config, model, epoch, data, config.relabel_perception)
    metrics = addition_metrics(config, run_versions, history, train_log, data, result, model, restarted, relabel)
    write_json(out / "metrics.json", metrics)
    return {"model": model, "metrics": metrics, "result": result}


__all__ = ["ADDITION_FORMAT", "TASK", "RESTART_EPOCH", "RESTART_LOSS", "AdditionConfig", "make_addition_training",
           "pairs_per_step", "part_trained", "scored_digits",
           "train_addition_epoch",
           "addition_metrics", "cell_report", "save", "fit_addition"]
