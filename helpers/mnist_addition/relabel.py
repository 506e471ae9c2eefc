"""Self-training on the program's own reading: after a run has learned its digits from the sums, every training
pair's most probable digits that the program adds up to the observed sum become the training images' labels, and a
perception trains on them (`AdditionConfig.relabel_epochs`; `train.fit` runs the training).

A digit read wrong nearly always changes the sum, so the sum corrects it: on the validation split (learned, mid,
N = 2, seeds 301-303) the perception alone read 99.88-99.91 % of the training images right and the constrained
reading 99.988-99.996 % (docs/mnist_addition.md). No digit label is read: the labels come
from the perception's probabilities, the sums and the program, which for `learned` is its own table, read as
addition on its classes' values (`program_values`).
"""
from __future__ import annotations

import torch

from ..core.device import to_device
from .data import AdditionData
from .model import SUM_OF_TWO, needed_sums


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
    best = model.cell.best().cpu()  # [a, b, c_in] -> s * 2 + c_out
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
    flat, total_of = both.flatten(2), SUM_OF_TWO.flatten().to(device)
    maxes = [flat.masked_fill(total_of != t, -torch.inf).max(-1) for t in range(19)]  # the best (a, b) per a + b
    best_pair, where = (torch.stack([m[k] for m in maxes], -1) for k in (0, 1))  # (P, N, 19) each
    needed = needed_sums(sums)  # (P, N, c_in, c_out): a + b
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


def program_reading(model, data: AdditionData) -> tuple[torch.Tensor, torch.Tensor, int] | None:
    """The training images' digits as the model's program reads them from the sums: each pair's most probable digits
    under the model's perception (in fp32, in eval mode) that its program adds up to the observed sum
    (`constrained_labels`); no digit label is read. Returns the images read (CPU indices), every training image's
    class (-1 where unread; on the data's device) and how many the reading changed from the perception's own argmax;
    None where the program reads no digits (`program_values`)."""
    values = program_values(model)
    if values is None:
        return None
    log_p = model.digit_logits(data.train_x).float().log_softmax(-1).cpu()[:, values.argsort()]  # column v: value v
    labels = constrained_labels(log_p, data.train_pairs.cpu(), data.train_sums.cpu())
    read = (labels >= 0).nonzero()[:, 0]
    classes = to_device(torch.where(labels >= 0, values.argsort()[labels.clamp(min=0)], -1), data.train_x.device)
    return read, classes, (labels[read] != log_p[read].argmax(-1)).sum().item()


__all__ = ["program_values", "constrained_labels", "program_reading"]
