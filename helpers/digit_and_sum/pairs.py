"""Held-out pairs: the (digit, number) pairs a run never trains on, drawn by its seed, and what the pairs trained on
show a full adder's cell. Training skips them, evaluation reads them apart, the studies count them."""
from __future__ import annotations

import torch

from .encoding import NUMBER_BITS

FIXED_HOLDOUT = "3d+7"  # the 10 pairs (d, 3d + 7 mod 10): one per digit and per number
MAX_HOLDOUT = 81  # 100 pairs less one per sum 0..18: what must stay for every sum to be trained on


def held_out_pairs(holdout, seed: int) -> torch.Tensor:
    """A 10x10 mask [digit, number] of the pairs a run never trains on.

    `holdout` = k holds out k of the 100 pairs, drawn by a generator seeded with the run's seed so
    that every digit, every number and every sum 0..18 still occurs in training: first one pair per
    sum that together cover all digits and numbers is kept (drawn at random until they do; (0, 0)
    and (9, 9), the only pairs for sums 0 and 18, are always among them), then k of the other 81
    are drawn. `FIXED_HOLDOUT` gives the fixed pairs (d, 3d + 7 mod 10); 0 holds out nothing.
    """
    held = torch.zeros(10, 10, dtype=torch.bool)
    if holdout == FIXED_HOLDOUT:
        held[torch.arange(10), (3 * torch.arange(10) + 7) % 10] = True
        return held
    generator = torch.Generator().manual_seed(seed)
    sums = torch.arange(19)
    low, high = (sums - 9).clamp(min=0), sums.clamp(max=9)  # the digits that can reach each sum
    while True:
        digits = low + (torch.rand(19, generator=generator) * (high - low + 1)).long()
        if len(set(digits.tolist())) == 10 and len(set((sums - digits).tolist())) == 10:
            break
    kept = torch.zeros(10, 10, dtype=torch.bool)
    kept[digits, sums - digits] = True
    others = torch.nonzero(~kept)
    chosen = others[torch.randperm(len(others), generator=generator)[:holdout]]
    held[chosen[:, 0], chosen[:, 1]] = True
    return held


def cell_coverage(held: torch.Tensor) -> dict:
    """What the pairs trained on show a full adder's cell. Each (digit, number) pair not in the 10x10 mask `held`,
    added in binary from the least significant bit, gives the cell an input (digit bit, number bit, carry in) at every
    position: which of the 8 `triples` occur, and which `counts` of ones (0-3) among them. A count never shown is one
    whose answer the pairs cannot teach."""
    triples = set()
    for digit, number in torch.nonzero(~held.cpu()).tolist():
        carry = 0
        for i in range(NUMBER_BITS):
            a, b = digit >> i & 1, number >> i & 1
            triples.add((a, b, carry))
            carry = int(a + b + carry >= 2)
    return {"triples": sorted(list(t) for t in triples), "counts": sorted({sum(t) for t in triples})}


def allowed_numbers(numbers: torch.Tensor, digits: torch.Tensor, held: torch.Tensor) -> torch.Tensor:
    """Each number, or where (digit, number) is held out the next number that is not (every digit has one)."""
    for _ in range(9):  # a fixed count: no host sync to ask whether any is left
        numbers = torch.where(held[digits, numbers], (numbers + 1) % 10, numbers)
    return numbers


__all__ = ["FIXED_HOLDOUT", "MAX_HOLDOUT", "held_out_pairs", "cell_coverage", "allowed_numbers"]
