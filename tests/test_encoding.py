import pytest
import torch
from torch import nn

from helpers.digit_and_sum.encoding import bits_to_int, decode_logits, encode_targets, int_to_bits
from helpers.digit_and_sum.evaluation import evaluate, evaluate_exhaustive

PAIRS = [(d, n) for d in range(10) for n in range(10)]


def test_targets_for_all_100_pairs_match_pythons_binary_format():
    digits, numbers = torch.tensor(PAIRS).T
    targets = encode_targets(digits, numbers)
    for (d, n), row in zip(PAIRS, targets.int().tolist()):
        assert "".join(map(str, row)) == format(d, "04b") + format(d + n, "05b")


def test_decode_round_trips_all_100_pairs():
    digits, numbers = torch.tensor(PAIRS).T
    logits = encode_targets(digits, numbers) * 6 - 3  # confident logits: bit 1 -> +3, 0 -> -3
    pred_digits, pred_sums = decode_logits(logits)
    assert torch.equal(pred_digits, digits) and torch.equal(pred_sums, digits + numbers)


def logits_for(digit_codes, sum_codes):
    bits = torch.cat([int_to_bits(torch.tensor(digit_codes), 4), int_to_bits(torch.tensor(sum_codes), 5)], 1)
    return bits * 4 - 2


def test_invalid_codes_decode_as_themselves():
    digit_codes, sum_codes = list(range(10, 16)), list(range(19, 25))
    d, s = decode_logits(logits_for(digit_codes, sum_codes))
    assert d.tolist() == digit_codes and s.tolist() == sum_codes
    _, s = decode_logits(logits_for([0] * 13, list(range(19, 32))))
    assert s.tolist() == list(range(19, 32))


class Fixed(nn.Module):
    """A stand-in model: image i (every pixel equal to i) gets the i-th of the given logits."""

    encoding = "binary"

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, images, number_bits):
        return self.logits[images[:, 0, 0, 0].long()]


def test_evaluate_counts_a_hand_checked_case():
    digits, numbers = torch.tensor([3, 7, 0, 9, 5]), torch.tensor([4, 9, 0, 9, 1])
    # predictions: right; digit wrong (sum right); sum wrong; invalid digit code 12; invalid sum code 27
    logits = logits_for([3, 1, 0, 12, 5], [7, 16, 1, 18, 27])
    images = torch.arange(5.0).view(5, 1, 1, 1).expand(5, 1, 28, 28)
    result = evaluate(Fixed(logits), images, digits, numbers, batch_size=2)
    assert result["digit_acc"] == pytest.approx(3 / 5)   # items 0, 2, 4
    assert result["sum_acc"] == pytest.approx(3 / 5)     # items 0, 1, 3
    assert result["joint_acc"] == pytest.approx(1 / 5)   # item 0
    assert result["correct"] == 1 and result["invalid"] == 2


def test_int_to_bits_rejects_what_does_not_fit():
    with pytest.raises(ValueError, match="0..15"):
        int_to_bits(torch.tensor([16]), 4)
    with pytest.raises(ValueError):
        int_to_bits(torch.tensor([-1]), 4)
    with pytest.raises(TypeError):
        int_to_bits(torch.tensor([1.0]), 4)


class Oracle(nn.Module):
    """A stand-in model that reads the digit off the image (every pixel equals it) and adds exactly,
    except that it answers sum + 1 whenever the number is `slip`."""

    encoding = "binary"

    def __init__(self, slip=-1):
        super().__init__()
        self.slip = slip

    def forward(self, images, number_bits):
        digits, numbers = images[:, 0, 0, 0].long(), bits_to_int(number_bits)
        sums = digits + numbers + (numbers == self.slip).long()
        return torch.cat([int_to_bits(digits, 4), int_to_bits(sums, 5)], 1) * 4 - 2


def test_exhaustive_evaluation_covers_every_number_for_every_image():
    digits = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 3])
    images = digits.float().view(-1, 1, 1, 1).expand(-1, 1, 28, 28)
    perfect = evaluate_exhaustive(Oracle(), images, digits)
    assert perfect["pairs"] == 120 and perfect["joint_acc"] == 1 and perfect["invalid"] == 0
    assert perfect["confusion"][9][9] == 20 and perfect["confusion"][3][3] == 20 and perfect["confusion"][0][0] == 10
    slips = evaluate_exhaustive(Oracle(slip=9), images, digits)
    assert slips["digit_acc"] == 1 and slips["sum_acc"] == pytest.approx(0.9)
    assert [row[9] for row in slips["sum_acc_by_pair"]] == [0.0] * 10
    assert sum(map(sum, slips["sum_acc_by_pair"])) == 90
    assert slips["invalid"] == 2  # 9 + 9 + 1 = 19, for the two images of a 9
