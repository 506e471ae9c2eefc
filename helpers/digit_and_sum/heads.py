"""The heads: from the backbone's 320 image features and the number's input code to the output logits. "mlp" is the
original's; the others carry a structure for addition (docs/addition.md): nothing in them computes digit + number,
their weights learn it from the data. Every head is built the same way, `HEADS[name](number_inputs, outputs)`."""
from __future__ import annotations

import functools
import itertools

import torch
import torch.nn.functional as F
from torch import nn

from ..core.device import at_least_fp32
from .encoding import DIGIT_BITS, NUMBER_BITS, SUM_BITS, int_to_bits


class MLPHead(nn.Sequential):
    """The original's head: concatenate features and number (324) -> 128 -> 64 -> outputs."""

    def __init__(self, number_inputs: int, outputs: int):
        super().__init__(nn.Linear(320 + number_inputs, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                         nn.Linear(64, outputs))

    def forward(self, features: torch.Tensor, number: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.cat([features, number], dim=1))


def digit_mlp(outputs: int) -> nn.Sequential:
    """320 image features -> 128 -> 64 -> `outputs`, the original's layer sizes without the number."""
    return nn.Sequential(nn.Linear(320, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, outputs))


class LineHead(nn.Module):
    """A learned number line: the image's value plus the number's value (a learned linear map of its bits, with
    unconstrained weights), one scalar, decoded to the sum bits by a small MLP; the digit bits from the image."""

    def __init__(self, number_inputs: int = NUMBER_BITS, outputs: int = DIGIT_BITS + SUM_BITS):
        super().__init__()
        self.digit_bits = outputs - SUM_BITS
        self.digit = digit_mlp(self.digit_bits + 1)  # the digit's bit logits and its value on the line
        self.number_value = nn.Linear(number_inputs, 1, bias=False)
        self.decode = nn.Sequential(nn.Linear(1, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, SUM_BITS))

    def forward(self, features: torch.Tensor, number: torch.Tensor) -> torch.Tensor:
        digit = self.digit(features)
        value = digit[:, self.digit_bits:] + self.number_value(number)
        return torch.cat([digit[:, :self.digit_bits], self.decode(value)], dim=1)


# The 8 exact inputs of a full adder's cell (digit bit, number bit, carry in) and its answers (sum bit, carry out): the
# sum bit is 1 for an odd count of ones, the carry for two or more.
CELL_INPUTS = torch.tensor([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], dtype=torch.float32)
FULL_ADDER = torch.stack([CELL_INPUTS.sum(1) % 2, (CELL_INPUTS.sum(1) >= 2).float()], 1)


class AdderHead(nn.Module):
    """A learned full adder: the digit's bits from the image, then one small cell, shared by every bit position
    (as the Neural GPU shares its rule), reads (digit bit, number bit, carry in) from the least significant bit up
    and gives a sum bit's logit and the carry out; the last carry is the sum's top bit. Nothing here adds: the cell
    learns its truth table from the sum bits of the pairs trained on.

    `symmetric`: the cell answers the same for its three inputs in any order (its outputs averaged over the 6
    orderings), as a full adder does; then pairs that show it (1, 0, 1) also teach it (0, 1, 1) and (1, 1, 0).
    `detach`: the cell reads the digit's bits as given values, so the sum bits train the cell and the digit bits
    the perception (without it the sum's loss bends the digit towards the pairs trained on: docs/addition.md).
    `shared`: one cell for every position; False gives each position a cell of its own (an ablation)."""

    def __init__(self, number_inputs: int = NUMBER_BITS, outputs: int = DIGIT_BITS + SUM_BITS, hidden: int = 16,
                 symmetric: bool = False, detach: bool = True, shared: bool = True):
        super().__init__()
        if outputs != 2 * number_inputs + 1:  # digit bits as many as the number's, one more for the sum
            raise ValueError(f"an adder over {number_inputs} bits writes {2 * number_inputs + 1} outputs, not {outputs}")
        self.bits, self.symmetric, self.detach, self.shared = number_inputs, symmetric, detach, shared
        orderings = torch.tensor(list(itertools.permutations(range(3))) if symmetric else [(0, 1, 2)])
        self.register_buffer("orderings", orderings, persistent=False)  # ordering k reads input orderings[k, j] at j
        self.register_buffer("slots", orderings.argsort(1), persistent=False)  # ... and input j at slots[k, j]
        self.digit = digit_mlp(number_inputs)

        def cell():
            return nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 2))
        self.cell = cell() if shared else nn.ModuleList(cell() for _ in range(number_inputs))

    def step(self, inputs: torch.Tensor, position: int = 0) -> torch.Tensor:
        """(batch, 3) cell inputs (digit bit, number bit, carry in) -> (batch, 2) logits (sum bit, carry out): the cell
        of bit `position` (0: the most significant) as the head runs it, averaged over its inputs' orderings."""
        cell = self.cell if self.shared else self.cell[position]
        return cell(inputs[:, self.orderings]).mean(dim=1)  # (batch, orderings, 3) -> (batch, orderings, 2) -> mean

    @torch.no_grad()
    def truth_table(self) -> torch.Tensor:
        """The cell's answers (sum bit, carry out) as probabilities for the 8 exact inputs `CELL_INPUTS`, on the CPU:
        (1, 8, 2) for a shared cell, (positions, 8, 2) for one cell per position."""
        weight = next(self.cell.parameters())
        inputs = CELL_INPUTS.to(weight.device, weight.dtype)
        return torch.stack([self.step(inputs, i).sigmoid() for i in range(1 if self.shared else self.bits)]).cpu()

    def ordered(self, cell: nn.Sequential) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A cell's first layer for all its inputs' orderings at once (weights (K*H, 3), bias (K*H)) and its last layer
        over them, with the mean over the orderings folded in (weights (2, K*H)): the orderings are one product each."""
        k = len(self.orderings)
        first = cell[0].weight[:, self.slots].transpose(0, 1).reshape(-1, 3)  # ordering k reads input j at slots[k, j]
        return first, cell[0].bias.repeat(k), (cell[4].weight / k).repeat(1, k)

    def digit_logits(self, features: torch.Tensor) -> torch.Tensor:
        """The digit's bit logits, most significant first."""
        return self.digit(features)

    def forward(self, features: torch.Tensor, number: torch.Tensor) -> torch.Tensor:
        digit_logits = self.digit_logits(features)
        inputs = torch.stack([(digit_logits.detach() if self.detach else digit_logits).sigmoid(), number], -1)  # (B, P, 2)
        layers = [self.ordered(self.cell)] * self.bits if self.shared else [self.ordered(cell) for cell in self.cell]
        if self.shared:  # every position's digit and number bits through the first layer at once
            pre = F.linear(inputs, layers[0][0][:, :2], layers[0][1]).unbind(1)
        else:
            pre = [F.linear(inputs[:, i], first[:, :2], bias) for i, (first, bias, _) in enumerate(layers)]
        carry, sum_logits = None, []
        for i in reversed(range(self.bits)):  # bits are most significant first: start at the last, with no carry in
            (first, _, last), cell = layers[i], self.cell if self.shared else self.cell[i]
            hidden = (pre[i] if carry is None else torch.addcmul(pre[i], carry, first[:, 2])).relu()
            hidden = cell[2](hidden.view(len(hidden), len(self.orderings), -1)).relu()
            out = F.linear(hidden.flatten(1), last, cell[4].bias)
            sum_logits.insert(0, out[:, :1])
            carry = out[:, 1:].sigmoid()
        return torch.cat([digit_logits, out[:, 1:], *sum_logits], dim=1)  # the last carry is the sum's top bit


class SymmetricAdderHead(AdderHead):
    """The adder with a symmetric cell: the head that learns addition (docs/addition.md)."""

    def __init__(self, number_inputs: int = NUMBER_BITS, outputs: int = DIGIT_BITS + SUM_BITS, hidden: int = 16,
                 detach: bool = True, shared: bool = True):
        super().__init__(number_inputs, outputs, hidden, symmetric=True, detach=detach, shared=shared)


class ClassAdderHead(SymmetricAdderHead):
    """symadder whose digit bits come from a distribution over the ten digits: the image gives one logit per digit
    0..9 (a softmax), and each digit bit's logit is the log-odds of its marginal, log P(bit = 1) - log P(bit = 0),
    summed over the digits with that bit. What it builds in: the digit is one of ten classes, so the six codes 10..15
    get no probability of their own (two softmax heads beat the 9 bits: docs/addition.md). The outputs, the loss and
    the cell are symadder's; nothing here adds."""

    def __init__(self, number_inputs: int = NUMBER_BITS, outputs: int = DIGIT_BITS + SUM_BITS, hidden: int = 16):
        super().__init__(number_inputs, outputs, hidden)
        self.digit = digit_mlp(10)
        self.register_buffer("codes", int_to_bits(torch.arange(10), number_inputs).bool(), persistent=False)  # (digit, bit)

    def digit_logits(self, features: torch.Tensor) -> torch.Tensor:
        classes = at_least_fp32(self.digit(features)).log_softmax(-1)[:, :, None]  # (batch, digit, 1)
        def log_marginal(mask):
            return classes.masked_fill(~mask, -torch.inf).logsumexp(1)
        return log_marginal(self.codes) - log_marginal(~self.codes)


class DigitBitsMLPHead(nn.Module):
    """The adder's factorization without its cell (an ablation): the digit's bits from the image, read detached as
    the adder reads them, and the number's bits go through an MLP to the sum bits; nothing is shared by position."""

    def __init__(self, number_inputs: int = NUMBER_BITS, outputs: int = DIGIT_BITS + SUM_BITS, hidden: int = 64):
        super().__init__()
        self.digit = digit_mlp(outputs - SUM_BITS)
        self.sum = nn.Sequential(nn.Linear(outputs - SUM_BITS + number_inputs, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, SUM_BITS))

    def forward(self, features: torch.Tensor, number: torch.Tensor) -> torch.Tensor:
        digit_logits = self.digit(features)
        return torch.cat([digit_logits, self.sum(torch.cat([digit_logits.detach().sigmoid(), number], 1))], 1)


# Every head is built the same way, `HEADS[name](number_inputs, outputs)`. The last three are ablations of symadder:
# the sum's loss reaching the digit bits, a cell per position, and the detached digit bits without any cell.
HEADS = {"mlp": MLPHead, "line": LineHead, "adder": AdderHead, "symadder": SymmetricAdderHead,
         "classadder": ClassAdderHead,
         "symadder-attached": functools.partial(SymmetricAdderHead, detach=False),
         "symadder-unshared": functools.partial(SymmetricAdderHead, shared=False),
         "digitbits-mlp": DigitBitsMLPHead}
ADDER_HEADS = ("adder", "symadder", "classadder", "symadder-attached", "symadder-unshared")  # the heads with a learned cell


__all__ = ["MLPHead", "digit_mlp", "LineHead", "CELL_INPUTS", "FULL_ADDER", "AdderHead", "SymmetricAdderHead",
           "ClassAdderHead", "DigitBitsMLPHead", "HEADS", "ADDER_HEADS"]
