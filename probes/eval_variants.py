"""Two rejected ideas for `strong`'s accuracy at evaluation, kept so their numbers can be re-measured (docs/speed.md,
the `strong` goal): test-time augmentation over one-pixel shifts, and the learned cell reading the digit's bits
rounded to 0 or 1 (the digit the model names) instead of their probabilities. Neither changes training.

    python sweep.py strong -p val_size 10000 --seeds 1 2 3 --keep-models --results runs/probe-strong
    python probes/eval_variants.py runs/probe-strong/strong-seed*/model.pt     # on the validation split they ran on
"""
import sys

import torch
import torch.nn.functional as F

from helpers.core.mnist import prepare_data
from helpers.digit_and_sum.checkpoints import load_checkpoint, read_checkpoint
from helpers.digit_and_sum.encoding import decode_outputs
from helpers.digit_and_sum.evaluation import eval_numbers, pair_logits

SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))  # the image and its four one-pixel shifts


def shifted(images: torch.Tensor, dx: int, dy: int, background: float) -> torch.Tensor:
    """Whole-pixel shifts of normalized images, the pixels moved in filled with the background."""
    return torch.roll(F.pad(images, (1, 1, 1, 1), value=background), (dy, dx), (2, 3))[:, :, 1:-1, 1:-1]


def accuracies(logits: torch.Tensor, digits: torch.Tensor, numbers: torch.Tensor) -> tuple[float, float]:
    """Digit and joint accuracy of 9-bit logits."""
    pred_digits, pred_sums = decode_outputs("binary", logits)
    digit_ok = pred_digits == digits
    return digit_ok.float().mean().item(), (digit_ok & (pred_sums == digits + numbers)).float().mean().item()


def hard_digit_bits(head):
    """The head's digit bit logits as +-50: its outputs decode to the same digit, and its cell reads 0 or 1."""
    original = head.digit_logits
    head.digit_logits = lambda features: 50 * torch.sign(original(features))
    return original


def main(paths: list[str]) -> None:
    for path in paths:
        model = load_checkpoint(path)
        params = read_checkpoint(path)["params"]
        data = prepare_data(val_size=params["val_size"])
        numbers, background = eval_numbers(len(data.eval_y)), (0 - data.mean) / data.std
        views = [pair_logits(model, shifted(data.eval_x, dx, dy, background), numbers) for dx, dy in SHIFTS]
        averaged = torch.logit(torch.stack([v.sigmoid() for v in views]).mean(0).clamp(1e-6, 1 - 1e-6))
        original = hard_digit_bits(model.head)
        hard = pair_logits(model, data.eval_x, numbers)
        model.head.digit_logits = original
        print(f"{path} ({data.eval_name}): digit / joint %")
        for name, logits in (("as trained", views[0]), ("5 shifted views averaged", averaged),
                             ("the cell on rounded digit bits", hard)):
            digit, joint = accuracies(logits, data.eval_y, numbers)
            print(f"  {name:<32} {100 * digit:.2f} / {100 * joint:.2f}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    main(sys.argv[1:])
