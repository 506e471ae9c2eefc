"""Training the primary task: one epoch as the original design's loop reads it, in its names (`train_epoch`), and
`fit`, which runs it for a run's epochs, evaluates after each, checkpoints and writes metrics.json. The notebook shows
`train_epoch`'s code and runs `fit`: the notebook, the sweeps, the benchmark and the tests train with this one loop."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..core.augment import random_affine
from ..core.checkpoints import read_checkpoint, save_checkpoint
from ..core.device import at_least_fp32, autocast, full_fp32, stopwatch, to_device, weight_dtype
from ..core.mnist import MNISTData
from ..core.runs import start_run, write_metrics
from ..core.training import batch_sizes, epoch_generator, epoch_loss, make_optimizer
from ..core.training import recalibrate_batch_norm as core_recalibrate
from .corruptions import robust_augment
from .encoding import NUMBER_BITS, bits_to_int, int_to_bits, softmax_loss, target_bits
from .evaluation import ACCURACIES, eval_numbers, evaluate, evaluate_exhaustive
from .model import CHECKPOINT_FORMAT, Net
from .pairs import allowed_numbers, cell_coverage, held_out_pairs
from .sampler import RandomSampler
from .settings import ADDED_PARAMS, TASK, TRAINING_PARAMS, Config


def make_training(config: Config, n_train: int, channels_last: bool = True, device="cpu"):
    """Seeded model (initialised on the CPU, then moved: the same weights on every device; float64 for an "fp64" run), AdamW
    optimizer (its fused implementation, one kernel per step, where torch has one) and one-cycle schedule."""
    torch.manual_seed(config.seed)
    model = Net.from_config(config, channels_last).to(device, weight_dtype(config.precision))
    optimizer, scheduler = make_optimizer(model.parameters(), config.lr, config.weight_decay, config.epochs,
                                          math.ceil(n_train / config.batch_size), device)
    return model, optimizer, scheduler


def train_epoch(model, data: MNISTData, optimizer, scheduler, epoch: int, config: Config, log=print) -> list[torch.Tensor]:
    """One pass over the training images in a seeded random order. Each batch: the images (randomly rotated, scaled
    and shifted; `augment="robust"`: some corrupted, some without a digit, `unknown`), their numbers from the
    sampler (never a held-out pair), the 9 logits, binary cross-entropy against the 9 target bits, and a step of AdamW
    and of its one-cycle schedule. Returns every step's loss (0-dim tensors left on the device: the host waits for
    one only at a log line, every `log_interval` steps).

    Every draw (order, numbers, augmentation) comes from seeded CPU generators, so a seed means the same data on every
    device; they reach it through `to_device`, which never makes the host wait."""
    model.train()
    n, batch_size, device = len(data.train_x), config.batch_size, data.train_x.device
    generator = epoch_generator(config.seed, epoch)  # the order, numbers and augmentation; torch's seed for dropout
    order = to_device(torch.randperm(n, generator=generator), device)
    sampler = RandomSampler(batch_size, seed=int(torch.randint(2**62, (1,), generator=generator)), dataset_size=n)
    held = to_device(held_out_pairs(config.holdout, config.seed), device) if config.holdout else None
    losses = []
    for step in range(len(sampler)):
        idx = order[step * batch_size:(step + 1) * batch_size]
        images, digits, unknown = data.train_x[idx], data.train_y[idx], None
        if config.augment:
            images = random_affine(images, generator, data.background, elastic=config.elastic)
        if config.augment == "robust":
            images, unknown = robust_augment(images, generator, data.mean, data.std)
        number_bits = to_device(sampler.getRandomBatch(), device)  # the batch's numbers 0..9 as 4 bits
        if held is not None:  # never train on a held-out pair: take the next number instead
            number_bits = int_to_bits(allowed_numbers(bits_to_int(number_bits), digits, held), NUMBER_BITS, check=False)
        numbers = bits_to_int(number_bits)
        with autocast(device, config.precision):  # bf16 where the run asks for it; else nothing
            logits = model(images, number_bits)
        logits = at_least_fp32(logits)  # the loss in fp32 at least (an fp64 run's in fp64)
        if model.encoding == "softmax":  # the ablation's two softmax heads
            loss = softmax_loss(logits, digits, numbers, unknown, config.label_smoothing)
        else:  # the 9 bits (or the one-hot code's 29 outputs), each a binary label
            loss = F.binary_cross_entropy_with_logits(
                logits, target_bits(model.encoding, digits, numbers, unknown, config.label_smoothing, logits.dtype))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.detach())
        if step % config.log_interval == 0:
            log(f"Train Epoch: {epoch} [{step * batch_size}/{n} ({100 * step / len(sampler):.0f}%)]\tLoss: {loss.item():.6f}")
    return losses


def recalibrate_batch_norm(model, images: torch.Tensor, precision: str = "fp32", batch_size: int = 1000) -> None:
    """`recalibrate_bn`: batch norm's statistics of the clean training images (the core's `recalibrate_batch_norm`),
    each image read with the number 0 (the number does not reach the backbone)."""
    zeros = torch.zeros(batch_size, NUMBER_BITS, device=images.device)
    core_recalibrate(model, images, lambda batch: model(batch, zeros[:len(batch)]), precision, batch_size)


def evaluation_line(result: dict, eval_name: str = "test") -> str:
    """An epoch's evaluation (`evaluate`'s result) in the starting design's log format."""
    n = len(result["pred_digits"])
    return (f"{eval_name.capitalize()} set: Avg. loss: {result['loss']:.4f}, "
            f"Accuracy: {result['correct']}/{n} ({100 * result['joint_acc']:.0f}%)")


def fit(config: Config, data: MNISTData, log=print) -> dict:
    """Train for `config.epochs` (`train_epoch`), evaluating on the fixed evaluation pairs after each epoch and writing
    `{output_dir}/model.pt` (atomically) and `metrics.json` as it goes; at the end every evaluation image with every
    number (`evaluate_exhaustive`). With `config.resume` it continues from the checkpoint there. An "fp32" run
    computes in fp32 on every device (`full_fp32`). Returns the settings ("auto" resolved), the model, the metrics,
    the last evaluation and the evaluation pairs' numbers."""
    if not isinstance(config, Config):
        raise TypeError(f"fit needs a Config (helpers.digit_and_sum.settings: checked settings), got {type(config).__name__}")
    config, device, out, run_versions = start_run(config)
    model, optimizer, scheduler = make_training(config, len(data.train_x), device=device)
    data = data.to(device, weight_dtype(config.precision))
    history, train_log, first, result = [], [], 1, None
    if config.resume and (out / "model.pt").exists():
        state = read_checkpoint(out / "model.pt", CHECKPOINT_FORMAT)
        if changed := [k for k in TRAINING_PARAMS if state["params"].get(k, ADDED_PARAMS.get(k)) != getattr(config, k)]:
            raise ValueError(f"cannot resume {out / 'model.pt'}: it was trained with other "
                             + ", ".join(f"{k}={state['params'].get(k)!r}" for k in changed))
        for part, saved in ((model, "model"), (optimizer, "optimizer"), (scheduler, "scheduler")):
            part.load_state_dict(state[saved])
        history, train_log, first = state["history"], state["train_log"], state["epoch"] + 1
        log(f"Resumed from {out / 'model.pt'} after epoch {state['epoch']}")
    numbers = eval_numbers(len(data.eval_x))  # every run pairs the evaluation images with the same numbers
    record = {"eval_set": data.eval_name, "mean": data.mean, "std": data.std}
    with full_fp32(device, config.precision):
        for epoch in range(first, config.epochs + 1):
            elapsed = stopwatch(device)
            losses = train_epoch(model, data, optimizer, scheduler, epoch, config, log)
            if config.recalibrate_bn and epoch == config.epochs:  # part of the training time
                recalibrate_batch_norm(model, data.train_x, config.precision)
            seconds = elapsed()
            result = evaluate(model, data.eval_x, data.eval_y, numbers)
            log(f"\n{evaluation_line(result, data.eval_name)}")
            log(f"Epoch {epoch}: digit {result['digit_acc']:.2%}  sum {result['sum_acc']:.2%}  "
                f"joint {result['joint_acc']:.2%}  invalid codes {result['invalid']}  ({seconds:.1f} s)\n")
            history.append({"epoch": epoch,
                            "train_loss": epoch_loss(losses, batch_sizes(len(data.train_x), config.batch_size)).item(),
                            "seconds": seconds, f"{data.eval_name}_loss": result["loss"], **{k: result[k] for k in (*ACCURACIES, "invalid")}})
            train_log += [{"epoch": epoch, "batch": step, "seen": step * config.batch_size, "loss": losses[step].item()}
                          for step in range(0, len(losses), config.log_interval)]
            save_checkpoint(out / "model.pt", CHECKPOINT_FORMAT, TASK, model.state_dict(), **model.settings(),
                            mean=data.mean, std=data.std, params=config.to_dict(), versions=run_versions, epoch=epoch,
                            history=history, train_log=train_log, optimizer=optimizer.state_dict(),
                            scheduler=scheduler.state_dict())
            write_metrics(out, TASK, config, run_versions, record, history, train_log,
                          {k: history[-1][k] for k in ACCURACIES}, sum(h["seconds"] for h in history), exhaustive=None)
        if result is None:  # resumed a finished run: evaluate what it left
            result = evaluate(model, data.eval_x, data.eval_y, numbers)
        held = held_out_pairs(config.holdout, config.seed)
        exhaustive = {**evaluate_exhaustive(model, data.eval_x, data.eval_y, held if config.holdout else None),
                      "coverage": cell_coverage(held)}
    metrics = write_metrics(out, TASK, config, run_versions, record, history, train_log,
                            {k: history[-1][k] for k in ACCURACIES}, sum(h["seconds"] for h in history),
                            exhaustive=exhaustive)
    return {"config": config, "model": model, "metrics": metrics, "result": result, "numbers": numbers}


__all__ = ["make_training", "train_epoch", "recalibrate_batch_norm", "evaluation_line", "fit"]
