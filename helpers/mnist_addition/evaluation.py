"""MNIST addition's evaluation: the sums of the evaluation pairs and the perception's digits, scored against labels
that training never reads."""
from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment

from .data import AdditionData


@torch.no_grad()
def evaluate_addition(model, data: AdditionData, batch_pairs: int | None = None) -> dict:
    """Exact-match sum accuracy over the evaluation pairs, the perception's digit accuracy over their images (read
    with their labels, which training never saw; for the learned cell also after the best matching of its digit
    classes to the digits, which it may have permuted), and the predictions."""
    model.eval()
    per_step = batch_pairs or max(1, 2048 // (2 * data.digits))
    digit_logits, sums = [], []
    for i in range(0, len(data.eval_pairs), per_step):
        pairs = data.eval_pairs[i:i + per_step]
        logits, predicted = model.predict(data.eval_x[pairs.flatten()].view(*pairs.shape, 1, 28, 28))
        sums.append(predicted)
        digit_logits.append(logits)
    sums = torch.cat(sums).cpu()
    result = {"sum_acc": (sums == data.eval_sums.cpu()).all(1).float().mean().item(), "pairs": len(sums),
              "pred_sums": sums}
    if digit_logits[0] is None:  # the neural baseline has no digit classifier to read
        return {**result, "digit_acc": None}
    predicted = torch.cat(digit_logits).argmax(-1).cpu().flatten()
    return {**result, **read_digits(predicted, data.eval_digits.cpu()[data.eval_pairs.cpu().flatten()]),
            "pred_digits": predicted}


def read_digits(predicted: torch.Tensor, truth: torch.Tensor) -> dict:
    """The perception's classes `predicted` scored against the digit labels `truth` (after training, never during):
    digit accuracy, and after the best matching of classes to digits (a learned cell may have permuted them) the
    matched accuracy, the confusion and the matching (digit d is class matching[d])."""
    confusion = torch.zeros(10, 10, dtype=torch.long).index_put_((truth, predicted), torch.ones_like(truth), accumulate=True)
    rows, cols = linear_sum_assignment(-confusion.numpy())  # the classes' best matching to the digits
    return {"digit_acc": (predicted == truth).float().mean().item(),
            "matched_digit_acc": confusion[rows, cols].sum().item() / len(truth), "confusion": confusion.tolist(),
            "matching": cols.tolist()}


__all__ = ["evaluate_addition", "read_digits"]
