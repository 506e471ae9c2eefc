"""Training MNIST addition from the sums alone: the task's loop (`train_epoch`: pairs scored by -log P(observed sum),
or, in the relabelled epochs, images scored against the program's own reading of the sums), the relabelled epochs
and their further members (`relabel`), and `fit`: restarts, checkpoints, metrics.json, and the frozen model's sums
at other N (`lengths`). No digit label is read in training."""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from ..core.augment import random_affine
from ..core.checkpoints import save_checkpoint
from ..core.device import at_least_fp32, autocast, full_fp32, stopwatch, to_device
from ..core.runs import start_run, write_metrics
from ..core.training import batch_sizes, epoch_generator, epoch_loss, make_optimizer
from .data import AdditionData
from .evaluation import evaluate_addition
from .lengths import evaluate_lengths
from .model import CHECKPOINT_FORMAT, AdditionModel, Ensemble
from .relabel import program_reading
from .settings import TASK, AdditionConfig

# The relabelled epochs: their own seeds, apart from the run's, and label smoothing 0.1 (validation, learned mid at N = 2,
# seeds 301-303, docs/mnist_addition.md). A further member k of `members` seeds with k * MEMBER_SEED more.
RELABEL_SEED, RELABEL_SMOOTHING, MEMBER_SEED = 200_003, 0.1, 1000


def make_training(config: AdditionConfig, data: AdditionData, device="cpu", attempt: int = 0):
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
    """Whole pairs in a step of about `batch_size` images (at least one pair): a step of MNIST addition takes whole
    pairs, 2N images each."""
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




def train_epoch(model, data: AdditionData, optimizer, scheduler, epoch: int, config: AdditionConfig, log=print,
                seed: int | None = None, labels: tuple[torch.Tensor, torch.Tensor] | None = None):
    """One pass in a seeded order (`seed`: the run's unless given; dropout seeded too) over the training pairs, each
    step's loss -log P(observed sum), mean over its pairs (its `part_trained` only, under a curriculum); or, with
    `labels` (the images read, as CPU indices, and every training image's class on the device: `program_reading`),
    over those images, each step's loss cross-entropy against their class (the relabelled epochs). The images randomly
    rotated, scaled and shifted. Never a digit label. Returns the epoch's loss (each step's weighted by its items,
    `epoch_loss`), the mean of its last quarter of steps' losses (both on the device) and the logged lines."""
    generator = epoch_generator(config.seed if seed is None else seed, epoch)
    device = data.train_x.device
    if labels is None:
        items, per_step = len(data.train_pairs), pairs_per_step(config, data.digits)
        order = to_device(torch.randperm(items, generator=generator), device)
    else:
        read, classes = labels
        items, per_step = len(read), config.batch_size
        order = to_device(read[torch.randperm(items, generator=generator)], device)
    part = part_trained(config, data.digits, epoch) if labels is None else None
    model.train()
    losses, logged, steps = [], [], math.ceil(items / per_step)
    for step in range(steps):
        idx = order[step * per_step:(step + 1) * per_step]
        if labels is None:
            pairs, sums = data.train_pairs[idx], data.train_sums[idx]
            images = data.train_x[pairs.flatten()]
        else:
            images = data.train_x[idx]
        if config.augment:
            images = random_affine(images, generator, data.background)
        if labels is None:  # -log P(observed sum) through the program, under the run's precision
            with autocast(device, config.precision):
                loss = model.loss(images.view(*pairs.shape, 1, 28, 28), sums, config.balance, part)
        else:  # the perception alone against the program's reading
            with autocast(device, config.precision):
                logits = model.network(images.contiguous(memory_format=model.memory_format))
            loss = F.cross_entropy(at_least_fp32(logits), classes[idx], label_smoothing=RELABEL_SMOOTHING)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.detach())
        if step % config.log_interval == 0:  # the step's one wait for the device, every log_interval steps
            logged.append({"epoch": epoch, "step": step, "loss": losses[-1].item()})
            log(f"{'Relabelled' if labels else 'Train'} Epoch: {epoch} [{step}/{steps}]\tLoss "
                f"({'cross-entropy' if labels else '-log P(sum)'}): {logged[-1]['loss']:.4f}")
    last_quarter = torch.stack(losses[len(losses) - math.ceil(len(losses) / 4):]).mean()  # read for a restart
    return epoch_loss(losses, batch_sizes(items, per_step)), last_quarter, logged


def relabel(model: AdditionModel, config: AdditionConfig, data: AdditionData, member: int = 0, log=print):
    """`relabel_epochs` of self-training: the training images' digits as `model`'s program reads them from the sums
    (`program_reading`), then a fresh `relabel_perception` trained on them (`train_epoch` with those labels) at
    `relabel_lr`, evaluated after each epoch; `member` k > 0 seeds with k * MEMBER_SEED more. The program, a learned
    table included, stays the model's, and the new perception's classes are the old one's. Returns the new model and
    its record (the model unchanged and why, where its program reads no digits)."""
    reading = program_reading(model, data)
    if reading is None:
        log("Relabel: the learned table is not addition on a permutation of the digits; the model is kept")
        return model, {"skipped": "the learned table is not addition on a permutation of the digits"}
    read, classes, changed = reading
    device, seed = data.train_x.device, config.seed + RELABEL_SEED + MEMBER_SEED * member
    record = {"perception": config.relabel_perception, "images": len(read), "changed": changed, "history": []}
    torch.manual_seed(seed)
    student = AdditionModel(data.digits, config.method, config.relabel_perception, cell_init=config.cell_init).to(device)
    if model.cell is not None:
        student.cell.load_state_dict(model.cell.state_dict())
    optimizer, scheduler = make_optimizer(student.network.parameters(), config.relabel_lr, config.weight_decay,
                                          config.relabel_epochs, math.ceil(len(read) / config.batch_size), device)
    log(f"Relabel{f' (member {member + 1})' if member else ''}: {len(read):,} training images read by the program "
        f"from their sums ({changed} changed from the perception's own reading); {config.relabel_epochs} epochs of "
        f"the {config.relabel_perception} perception")
    for epoch in range(1, config.relabel_epochs + 1):
        elapsed = stopwatch(device)
        train_loss = train_epoch(student, data, optimizer, scheduler, epoch, config, log, seed, (read, classes))[0]
        seconds = elapsed()
        result = evaluate_addition(student, data)
        log(f"Relabelled epoch {epoch}: sum {result['sum_acc']:.2%}{digit_words(result, config.method)}  ({seconds:.1f} s)")
        record["history"].append({"epoch": epoch, "train_loss": train_loss.item(), "seconds": seconds,
                                  "sum_acc": result["sum_acc"], "digit_acc": result["digit_acc"]})
    return student, record


@torch.no_grad()
def cell_report(cell, matching: list[int]) -> dict:
    """The learned cell read in digits: for every digit a, b and carry in, its most probable (sum digit, carry out).
    Its inputs are the perception's classes, mapped to digits by `matching` (digit d is class matching[d]); its sum
    digit is a digit already (the observed sums train it), so it is read as it is."""
    best = cell.best().cpu()  # [class a, class b, c_in] -> digit s * 2 + c_out
    table, right = [], 0
    for a in range(10):
        for b in range(10):
            for carry in range(2):
                code = best[matching[a], matching[b], carry].item()
                s, out = code // 2, code % 2
                right += (s, out) == ((a + b + carry) % 10, int(a + b + carry >= 10))
                table.append([a, b, carry, s, out])
    return {"table": table, "right": right, "entries": len(table)}


def digit_words(result: dict, method: str) -> str:
    """The perception's digit accuracy as a log line says it: after the best matching of its classes to the digits
    for `learned` (its classes are the digits in some order), as read for the others; none for `neural`."""
    if result.get("digit_acc") is None:
        return ""
    if method == "learned":
        return f"  digit {result['matched_digit_acc']:.2%} (classes matched to digits)"
    return f"  digit {result['digit_acc']:.2%}"


def fit(config: AdditionConfig, data: AdditionData, log=print) -> dict:
    """Train for `config.epochs` from the sums alone (`train_epoch`), evaluating after each epoch; a run whose loss
    shows it found no digits starts again (`restarts`); then the relabelled epochs and their `members`, read as one
    (`relabel`); then the frozen model at every N of `lengths`. Writes `{output_dir}/model.pt` (atomically, after every
    epoch) and `metrics.json`. Returns the settings ("auto" resolved), the model, the metrics and the last
    evaluation."""
    if not isinstance(config, AdditionConfig):
        raise TypeError(f"fit needs an AdditionConfig (helpers.mnist_addition.settings), got {type(config).__name__}")
    config, device, out, run_versions = start_run(config)
    data = data.to(device)
    model, optimizer, scheduler = make_training(config, data, device)
    history, train_log, restarted, attempt, epoch, more = [], [], [], 0, 0, {}

    def save(model, perception: str, members: int = 1):
        save_checkpoint(out / "model.pt", CHECKPOINT_FORMAT, TASK, model.state_dict(), params=config.to_dict(),
                        perception=perception, members=members, epoch=epoch, mean=data.mean, std=data.std)
    with full_fp32(device, config.precision):
        while epoch < config.epochs:
            epoch += 1
            elapsed = stopwatch(device)
            train_loss, last_quarter, logged = train_epoch(model, data, optimizer, scheduler, epoch, config, log)
            train_loss = train_loss.item()
            seconds = elapsed()
            result = evaluate_addition(model, data)
            log(f"Epoch {epoch}: sum {result['sum_acc']:.2%}{digit_words(result, config.method)}  ({seconds:.1f} s)")
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
                model, optimizer, scheduler = make_training(config, data, device, attempt)
                continue
            save(model, config.perception)
        if config.relabel_epochs:
            first, more["relabel"] = relabel(model, config, data, 0, log)
            if "skipped" not in more["relabel"]:  # further members read the first one's reading
                others = [relabel(first, config, data, k, log) for k in range(1, config.members)]
                if others:
                    first.network = Ensemble([first.network, *(member.network for member, _ in others)])
                    more["ensemble"] = {"members": config.members, "trained": [{**record, "member": k} for k, (_, record)
                                                                               in enumerate(others, 1)]}
                model, result = first, evaluate_addition(first, data)
                save(model, config.relabel_perception, config.members)
    if config.lengths:  # the frozen model on the CPU, as the committed length studies read it
        more["lengths"] = evaluate_lengths(copy.deepcopy(model).cpu(), data.to("cpu"), config.seed, config.lengths, log=log)
    if model.cell is not None:
        more["cell"] = cell_report(model.cell, result["matching"])
    trained = [*history, *(e for r in restarted for e in r["history"]), *more.get("relabel", {}).get("history", []),
               *(e for r in more.get("ensemble", {}).get("trained", []) for e in r["history"])]
    metrics = write_metrics(out, TASK, config, run_versions,
                            {"eval_set": data.eval_name, "train_pairs": len(data.train_pairs), "mean": data.mean,
                             "std": data.std}, history, train_log,
                            {k: result[k] for k in ("sum_acc", "digit_acc", "matched_digit_acc", "pairs") if k in result},
                            sum(h["seconds"] for h in trained), restarts=restarted, confusion=result.get("confusion"),
                            **more)
    return {"config": config, "model": model, "metrics": metrics, "result": result}


__all__ = ["RELABEL_SEED", "RELABEL_SMOOTHING", "MEMBER_SEED", "make_training", "pairs_per_step", "part_trained",
           "scored_digits", "train_epoch", "relabel", "cell_report", "digit_words", "fit"]
