"""Bit codes: the number's 4 input bits; the output code, 9 bits (4 for the digit, 5 for the sum), and the
ablation's one-hot and softmax codes."""
from __future__ import annotations

import torch
import torch.nn.functional as F

NUMBER_BITS = 4  # the input number 0..9 as 4 bits
DIGIT_BITS, SUM_BITS = 4, 5  # 9 output bits: digit (0..9), then sum (0..18)


def int_to_bits(values: torch.Tensor, width: int, check: bool = True) -> torch.Tensor:
    """Integers -> float bits, most significant first: 5 with width 4 -> [0, 1, 0, 1].

    `check`: values that do not fit raise ValueError. Checking reads the values on the host, which on an accelerator
    makes it wait for the device: the project's own code, whose values are in range by construction (drawn numbers,
    labels, their sums), passes check=False."""
    values = torch.as_tensor(values)
    if values.dtype.is_floating_point or values.dtype == torch.bool:
        raise TypeError(f"int_to_bits needs an integer tensor, got {values.dtype}")
    if check and values.numel() and (values.min() < 0 or values.max() >= 2**width):
        raise ValueError(f"values must be in 0..{2**width - 1} to fit {width} bits")
    shifts = torch.arange(width - 1, -1, -1, device=values.device)
    return ((values.unsqueeze(-1) >> shifts) & 1).float()


def bits_to_int(bits: torch.Tensor) -> torch.Tensor:
    """Bits (or probabilities, thresholded at 0.5), most significant first -> int64."""
    weights = 2 ** torch.arange(bits.shape[-1] - 1, -1, -1, device=bits.device)
    return ((bits > 0.5).long() * weights).sum(-1)


def encode_targets(digits: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
    """(digit, number) -> 9 target bits: 4 for the digit, 5 for digit + number."""
    return torch.cat([int_to_bits(digits, DIGIT_BITS, check=False), int_to_bits(digits + numbers, SUM_BITS, check=False)], -1)


def decode_logits(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """9 logits -> (digit code 0..15, sum code 0..31); codes above 9 and 18 are invalid."""
    bits = (logits > 0).float()
    return bits_to_int(bits[..., :DIGIT_BITS]), bits_to_int(bits[..., DIGIT_BITS:])


def invalid_codes(digits: torch.Tensor, sums: torch.Tensor) -> torch.Tensor:
    """Where a decoded answer is no answer at all: a digit above 9 or a sum above 18."""
    return (digits > 9) | (sums > 18)


def answer_text(value: int, highest: int) -> str:
    """A decoded answer as people read it: the value, marked "?" when it is an invalid code (above `highest`)."""
    return str(value) if value <= highest else f"{value}?"


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


def target_bits(encoding: str, digits: torch.Tensor, numbers: torch.Tensor, unknown: torch.Tensor | None = None,
                label_smoothing: float = 0.0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """What each output is trained towards by binary cross-entropy (the 9 bits, or the one-hot code's 29 outputs):
    `target_code` in `dtype` (an fp64 run's loss is in fp64 too). `unknown` marks images without a digit
    (`augment="robust"`): their target is "don't know", every output at 0.5, so that no answer is confident on them.
    `label_smoothing` ε moves each target that far towards "don't know", as in `F.cross_entropy`: (1 - ε) t + ε / 2."""
    targets = target_code(encoding, digits, numbers).to(dtype)
    if unknown is not None:
        targets = torch.where(unknown[:, None], 0.5, targets)
    return targets * (1 - label_smoothing) + label_smoothing / 2


def softmax_loss(logits: torch.Tensor, digits: torch.Tensor, numbers: torch.Tensor,
                 unknown: torch.Tensor | None = None, label_smoothing: float = 0.0) -> torch.Tensor:
    """The "softmax" encoding's loss (an ablation): cross-entropy of the 10 digit and the 19 sum outputs, each a
    softmax head; an image without a digit is trained towards the uniform distribution."""
    targets = target_code("softmax", digits, numbers).to(logits.dtype)
    targets = [targets[:, :10], targets[:, 10:]]
    if unknown is not None:
        targets = [torch.where(unknown[:, None], 1 / t.shape[1], t) for t in targets]
    return (F.cross_entropy(logits[:, :10], targets[0], label_smoothing=label_smoothing)
            + F.cross_entropy(logits[:, 10:], targets[1], label_smoothing=label_smoothing))


def output_loss(encoding: str, logits: torch.Tensor, digits: torch.Tensor, numbers: torch.Tensor,
                unknown: torch.Tensor | None = None, label_smoothing: float = 0.0) -> torch.Tensor:
    """The loss of an encoding for the true digits and numbers: binary cross-entropy on the logits against
    `target_bits`, or for "softmax" `softmax_loss` (what `train.train_epoch` trains and `evaluate` reports)."""
    if encoding == "softmax":
        return softmax_loss(logits, digits, numbers, unknown, label_smoothing)
    return F.binary_cross_entropy_with_logits(logits, target_bits(encoding, digits, numbers, unknown, label_smoothing,
                                                                  logits.dtype))


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


__all__ = ["NUMBER_BITS", "DIGIT_BITS", "SUM_BITS", "int_to_bits", "bits_to_int", "encode_targets", "decode_logits",
           "invalid_codes", "answer_text", "ENCODINGS", "target_code", "target_bits", "softmax_loss", "output_loss",
           "decode_outputs"]
