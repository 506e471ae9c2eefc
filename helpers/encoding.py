"""The output code: 9 bits (4 for the digit, 5 for the sum), and the ablation's one-hot and softmax codes."""
from __future__ import annotations


import torch
import torch.nn.functional as F

from .sampler import bits_to_int, int_to_bits


DIGIT_BITS, SUM_BITS = 4, 5  # 9 output bits: digit (0..9), then sum (0..18)


def encode_targets(digits: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
    """(digit, number) -> 9 target bits: 4 for the digit, 5 for digit + number."""
    return torch.cat([int_to_bits(digits, DIGIT_BITS), int_to_bits(digits + numbers, SUM_BITS)], -1)


def decode_logits(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """9 logits -> (digit code 0..15, sum code 0..31); codes above 9 and 18 are invalid."""
    bits = (logits > 0).float()
    return bits_to_int(bits[..., :DIGIT_BITS]), bits_to_int(bits[..., DIGIT_BITS:])


def invalid_codes(digits: torch.Tensor, sums: torch.Tensor) -> torch.Tensor:
    """Where a decoded answer is no answer at all: a digit above 9 or a sum above 18."""
    return (digits > 9) | (sums > 18)


# Output encodings and their number of outputs. "binary" is the original's 9 bits and the default;
# the others exist for the ablation: "onehot" (10 digit + 19 sum outputs, BCE) and "softmax"
# (the same 29 outputs as two softmax heads with cross-entropy).
ENCODINGS = {"binary": DIGIT_BITS + SUM_BITS, "onehot": 10 + 19, "softmax": 10 + 19}


def target_code(encoding: str, digits: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
    """What the outputs should read for (digit, number) pairs, 0 or 1 each: the 9 bits, or the 10 digit and
    19 sum outputs one-hot (the softmax encoding's two heads read the same 29 as class targets)."""
    if encoding == "binary":
        return encode_targets(digits, numbers)
    return torch.cat([F.one_hot(digits, 10), F.one_hot(digits + numbers, 19)], -1).float()


def output_loss(encoding: str, logits: torch.Tensor, digits: torch.Tensor, numbers: torch.Tensor,
                unknown: torch.Tensor | None = None, label_smoothing: float = 0.0) -> torch.Tensor:
    """The training loss of an encoding for the true digits and numbers.

    `unknown` marks images without a digit (`robust_augment`): their target is "don't know", every
    output bit at 0.5 (softmax: the uniform distribution), so that no answer is confident on them.
    `label_smoothing` ε moves each target that far towards "don't know", as in `F.cross_entropy`:
    a bit's target becomes (1 - ε) t + ε / 2 (0 -> ε/2, 1 -> 1 - ε/2); still BCE on the logits.
    """
    targets = target_code(encoding, digits, numbers)
    if encoding == "softmax":
        targets = [targets[:, :10], targets[:, 10:]]
        if unknown is not None:
            targets = [torch.where(unknown[:, None], 1 / t.shape[1], t) for t in targets]
        return (F.cross_entropy(logits[:, :10], targets[0], label_smoothing=label_smoothing)
                + F.cross_entropy(logits[:, 10:], targets[1], label_smoothing=label_smoothing))
    if unknown is not None:
        targets = torch.where(unknown[:, None], 0.5, targets)
    return F.binary_cross_entropy_with_logits(logits, targets * (1 - label_smoothing) + label_smoothing / 2)


def decode_outputs(encoding: str, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits -> (digit, sum); an invalid code comes out above 9 (digit) or 18 (sum).

    One-hot outputs are valid only with exactly one output above 0 in a group; softmax heads
    always name a class.
    """
    if encoding == "binary":
        return decode_logits(logits)
    if encoding == "softmax":
        return logits[:, :10].argmax(-1), logits[:, 10:].argmax(-1)

    def one_hot_code(group, invalid):
        on = group > 0
        return torch.where(on.sum(-1) == 1, on.long().argmax(-1), torch.full_like(on[:, 0], invalid, dtype=torch.long))
    return one_hot_code(logits[:, :10], 15), one_hot_code(logits[:, 10:], 31)


__all__ = ["DIGIT_BITS", "SUM_BITS", "encode_targets", "decode_logits", "invalid_codes", "ENCODINGS", "target_code",
           "output_loss", "decode_outputs"]
