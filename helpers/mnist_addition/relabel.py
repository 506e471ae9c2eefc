"""Self-training on the program's own reading: after a run has learned its digits from the sums, every training
pair's most probable digits that the program adds up to the observed sum become the training images' labels, and a
perception trains on them (`AdditionConfig.relabel_epochs`; `fit_addition` runs it).

A digit read wrong nearly always changes the sum, so the sum corrects it: on the validation split (learned, mid,
N = 2, seeds 301-303) the perception alone read 99.88-99.91 % of the training images right and the constrained
reading 99.988-99.996 % (results/validation/mnist_addition/self-training/). No digit label is read: the labels come
from the perception's probabilities, the sums and the program, which for `learned` is its own table, read as
addition on its classes' values (`program_values`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..core.augment import random_affine
from ..core.device import at_least_fp32, autocast, stopwatch, to_device
from ..core.training import epoch_loss, make_optimizer, optimizer_step, seed_epoch
from .data import AdditionData
from .evaluation import evaluate_addition
from .model import AdditionModel

# The relabelled epochs: their own seeds, apart from the run's, and label smoothing 0.1 (validation, learned mid at N = 2,
# seeds 301-303: results/validation/mnist_addition/self-training/). Further members of an ensemble (`member` k > 0) seed
# with k * MEMBER_SEED more, as probes/self_training.py's members do.
RELABEL_SEED, RELABEL_SMOOTHING, MEMBER_SEED = 200_003, 0.1, 1000

SUM_OF_TWO_DIGITS = torch.arange(10)[:, None] + torch.arange(10)  # [a, b] -> a + b


@torch.no_grad()
def program_values(model) -> torch.Tensor | None:
    """Each perception class's digit value under the model's program (M classes -> (10,) values): the identity for
    `exact`; for `learned`, the values its table adds as addition does, read from (c, c, carry 0) -> sum digit
    2v mod 10 and carry v >= 5, and checked on every entry of the table. None where the table is not addition on a
    permutation of the digits (no constrained reading exists) or the method has no program."""
    if model.method == "exact":
        return torch.arange(10)
    if model.method != "learned":
        return None
    best = model.cell.probabilities().flatten(3).argmax(-1).cpu()  # [a, b, c_in] -> s * 2 + c_out
    code = best[torch.arange(10), torch.arange(10), 0]
    values = code // 2 // 2 + 5 * (code % 2)
    if sorted(values.tolist()) != list(range(10)):
        return None
    total = values[:, None, None] + values[None, :, None] + torch.arange(2)  # [a, b, c_in] -> v_a + v_b + c_in
    return values if torch.equal(best, total % 10 * 2 + (total >= 10).long()) else None


def constrained_labels(log_p: torch.Tensor, pairs: torch.Tensor, sums: torch.Tensor) -> torch.Tensor:
    """The most probable digits of each pair whose sum is the observed one, under exact addition: `log_p` (M, 10) the
    images' log probabilities over digit values, `pairs` (P, 2, N) image indices, `sums` (P, N + 1) digits, most
    significant first, all on one device. Max-product (Viterbi) over the carry: at each position the best digit pair
    for each (carry in, carry out), chained from the least significant position (no carry into it) to the last carry,
    which is the sum's top digit: O(N) per pair, any N. -> (M,) digit values, -1 for images in no pair."""
    device = log_p.device
    lp = log_p[pairs]  # (P, 2, N, 10)
    both = lp[:, 0, :, :, None] + lp[:, 1, :, None, :]  # (P, N, 10, 10): log P(a) + log P(b)
    flat, total_of = both.flatten(2), SUM_OF_TWO_DIGITS.flatten().to(device)
    maxes = [flat.masked_fill(total_of != t, -torch.inf).max(-1) for t in range(19)]  # the best (a, b) per a + b
    best_pair, where = (torch.stack([m[k] for m in maxes], -1) for k in (0, 1))  # (P, N, 19) each
    carry = torch.arange(2, device=device)
    needed = sums[:, 1:, None, None] - carry[:, None] + 10 * carry  # (P, N, c_in, c_out): a + b
    valid = (needed >= 0) & (needed <= 18)
    step = best_pair.gather(2, needed.clamp(0, 18).flatten(2)).view_as(needed).masked_fill(~valid, -torch.inf)
    score = torch.tensor([0.0, -torch.inf], device=device).expand(len(pairs), 2)  # no carry into the lowest position
    back = []
    for i in reversed(range(pairs.shape[-1])):
        options = score[:, :, None] + step[:, i]  # (P, c_in, c_out)
        score, came = options.max(1)
        back.append(came)
    c_out = sums[:, 0].long()  # the top digit is the last carry
    chosen, rows = [], torch.arange(len(pairs), device=device)
    for i, came in zip(range(pairs.shape[-1]), reversed(back)):  # most significant first
        c_in = came.gather(1, c_out[:, None])[:, 0]
        t = needed[rows, i, c_in, c_out].clamp(0, 18)
        chosen.append(where[rows, i, t])
        c_out = c_in
    code = torch.stack(chosen, 1)  # (P, N): a * 10 + b
    labels = torch.full((len(log_p),), -1, device=device)
    labels[pairs.flatten()] = torch.stack([code // 10, code % 10], 1).flatten()
    return labels


def relabelled(model, config, data: AdditionData, log=print, member: int = 0) -> tuple[AdditionModel, dict]:
    """`relabel_epochs` of self-training: the training images' digits as the model's program reads them from the
    sums (`relabel.constrained_labels`: each pair's most probable digits that add up to its observed sum; no digit
    label is read), then a fresh `relabel_perception` trained on them for `relabel_epochs` (cross-entropy with label
    smoothing, the run's augmentation and batch size, one-cycle AdamW at `relabel_lr`), evaluated after each epoch.
    The program, a learned table included, stays the model's, and the new perception's classes are the old one's.
    `member` > 0: the same on other seeds (an ensemble's further members). Returns the new model and the record (the
    model unchanged and why, where its program reads no digits)."""
    values = program_values(model)
    if values is None:
        log("Relabel: the learned table is not addition on a permutation of the digits; the model is kept")
        return model, {"skipped": "the learned table is not addition on a permutation of the digits"}
    device, background = data.train_x.device, (0 - data.mean) / data.std
    model.eval()
    with torch.no_grad():  # the reading in fp32 (as on validation), whatever precision the training ran in
        logits = torch.cat([model.network(data.train_x[i:i + 2048].contiguous(memory_format=model.memory_format))
                            for i in range(0, len(data.train_x), 2048)])
    log_p = logits.float().log_softmax(-1).cpu()[:, values.argsort()]  # column v: the class whose value is v
    labels = constrained_labels(log_p, data.train_pairs.cpu(), data.train_sums.cpu())
    classes = to_device(torch.where(labels >= 0, values.argsort()[labels.clamp(min=0)], -1), device)
    read = (labels >= 0).nonzero()[:, 0]
    seed = config.seed + RELABEL_SEED + MEMBER_SEED * member
    record = {"perception": config.relabel_perception, "images": len(read),
              "changed": (labels[read] != log_p[read].argmax(-1)).sum().item(), "history": []}
    torch.manual_seed(seed)
    student = AdditionModel(data.digits, config.method, config.relabel_perception, cell_init=config.cell_init).to(device)
    if model.cell is not None:
        student.cell.load_state_dict(model.cell.state_dict())
    steps = math.ceil(len(read) / config.batch_size)
    optimizer, scheduler = make_optimizer(student.network.parameters(), config.relabel_lr, config.weight_decay,
                                          config.relabel_epochs, steps, device)
    log(f"Relabel: {len(read):,} training images read by the program from their sums ({record['changed']} changed "
        f"from the perception's own reading); {config.relabel_epochs} epochs of the {config.relabel_perception} perception")
    for epoch in range(1, config.relabel_epochs + 1):
        generator, elapsed = seed_epoch(seed, epoch), stopwatch(device)
        order = to_device(read[torch.randperm(len(read), generator=generator)], device)
        student.train()
        losses = []
        for step in range(steps):
            idx = order[step * config.batch_size:(step + 1) * config.batch_size]
            images = random_affine(data.train_x[idx], generator, background) if config.augment else data.train_x[idx]
            with autocast(device, config.precision):
                out = student.network(images.contiguous(memory_format=student.memory_format))
            loss = F.cross_entropy(at_least_fp32(out), classes[idx], label_smoothing=RELABEL_SMOOTHING)
            losses.append(optimizer_step(loss, optimizer, scheduler))
        sizes = [min(config.batch_size, len(read) - step * config.batch_size) for step in range(steps)]
        train_loss, seconds = epoch_loss(losses, sizes).item(), elapsed()
        result = evaluate_addition(student, data)
        log(f"Relabel epoch {epoch}: sum {result['sum_acc']:.2%}  digit {result['digit_acc']:.2%}  ({seconds:.1f} s)")
        record["history"].append({"epoch": epoch, "train_loss": train_loss, "seconds": seconds,
                                  "sum_acc": result["sum_acc"], "digit_acc": result["digit_acc"]})
    return student, record


__all__ = ["RELABEL_SEED", "RELABEL_SMOOTHING", "MEMBER_SEED", "program_values", "constrained_labels", "relabelled"]
