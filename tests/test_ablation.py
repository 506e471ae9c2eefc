"""The ablation's output encodings and the held-out pairs."""
import pytest
import torch
import torch.nn.functional as F

from helpers.core.mnist import prepare_data
from helpers.digit_and_sum import train as digit_training
from helpers.digit_and_sum.encoding import (
    ENCODINGS,
    decode_outputs,
    encode_targets,
    int_to_bits,
    output_loss,
    target_bits,
    target_code,
)
from helpers.digit_and_sum.model import Net, number_features
from helpers.digit_and_sum.pairs import FIXED_HOLDOUT, MAX_HOLDOUT, held_out_pairs
from helpers.digit_and_sum.settings import Config
from helpers.digit_and_sum.train import make_training, train_epoch

DIGITS, NUMBERS = torch.tensor([(d, n) for d in range(10) for n in range(10)]).T


def perfect_logits(encoding):
    if encoding == "binary":
        return encode_targets(DIGITS, NUMBERS) * 6 - 3
    return torch.cat([F.one_hot(DIGITS, 10), F.one_hot(DIGITS + NUMBERS, 19)], 1).float() * 6 - 3


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_every_encoding_round_trips_all_100_pairs(encoding):
    digits, sums = decode_outputs(encoding, perfect_logits(encoding))
    assert torch.equal(digits, DIGITS) and torch.equal(sums, DIGITS + NUMBERS)
    model = Net(backbone="classic", encoding=encoding)
    assert model(torch.zeros(2, 1, 28, 28), torch.zeros(2, 4)).shape == (2, ENCODINGS[encoding])
    confident = output_loss(encoding, perfect_logits(encoding), DIGITS, NUMBERS)
    unsure = output_loss(encoding, torch.zeros_like(perfect_logits(encoding)), DIGITS, NUMBERS)
    assert confident < unsure


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_label_smoothing_moves_the_best_output_off_certainty(encoding):
    """With ε the loss is least at outputs of probability 1 - ε/2 (bits) or 1 - ε + ε/K (softmax), not at certainty:
    the gradient vanishes there, computed by hand for the minimum, and does not at the hard targets."""
    eps = 0.2
    targets = target_code(encoding, DIGITS, NUMBERS)
    if encoding == "softmax":  # per head: probability 1 - ε + ε/K on the class, ε/K on each other one
        heads = [(targets[:, :10], 10), (targets[:, 10:], 19)]
        best = torch.cat([torch.log(t * (1 - eps) + eps / k) for t, k in heads], 1).requires_grad_()
    else:  # per output bit: probability 1 - ε/2 where the target is 1, ε/2 where it is 0
        best = torch.logit(torch.where(targets > 0.5, 1 - eps / 2, eps / 2)).requires_grad_()
    output_loss(encoding, best, DIGITS, NUMBERS, label_smoothing=eps).backward()
    assert best.grad.abs().max() < 1e-6  # the smoothed targets are the minimum
    hard = perfect_logits(encoding).clone().requires_grad_()
    output_loss(encoding, hard, DIGITS, NUMBERS, label_smoothing=eps).backward()
    assert hard.grad.abs().sum() > 1e-3  # confident outputs are pushed back towards the smoothed targets


def test_one_hot_needs_exactly_one_output_on():
    logits = perfect_logits("onehot")[:3].clone()
    logits[0, 3] = 3          # two digit outputs on
    logits[1, 10:] = -3       # no sum output on
    digits, sums = decode_outputs("onehot", logits)
    assert digits[0] > 9 and sums[1] > 18
    assert (digits[2], sums[2]) == (DIGITS[2], DIGITS[2] + NUMBERS[2])


def pairs(mask):
    return {tuple(p) for p in torch.nonzero(mask).tolist()}


def test_the_fixed_held_out_pairs_are_one_per_digit_and_number():
    held = pairs(held_out_pairs(FIXED_HOLDOUT, seed=5))
    assert held == {(d, (3 * d + 7) % 10) for d in range(10)}
    assert {d + n for d, n in held} <= {d + n for d in range(10) for n in range(10) if (d, n) not in held}


@pytest.mark.parametrize("seed", [1, 2])
def test_k_drawn_pairs_are_distinct_and_leave_every_digit_number_and_sum_in_training(seed):
    for k in range(MAX_HOLDOUT + 1):
        mask = held_out_pairs(k, seed)
        kept = {(d, n) for d in range(10) for n in range(10)} - pairs(mask)
        assert mask.sum() == k  # k distinct pairs
        assert {d for d, _ in kept} == set(range(10)) and {n for _, n in kept} == set(range(10))
        assert {d + n for d, n in kept} == set(range(19)), k
        assert (0, 0) in kept and (9, 9) in kept


def test_the_draw_depends_on_the_seed_and_only_on_it():
    assert torch.equal(held_out_pairs(30, 1), held_out_pairs(30, 1))
    assert not torch.equal(held_out_pairs(30, 1), held_out_pairs(30, 2))
    assert pairs(held_out_pairs(10, 3)) <= pairs(held_out_pairs(50, 3))  # one order per seed


@pytest.mark.parametrize("holdout", [-1, 82, True, 2.5, "3d+8", None])
def test_a_bad_holdout_is_refused(holdout):
    with pytest.raises(ValueError, match="holdout must be a number of pairs 0..81 or '3d\\+7'"):
        Config(holdout=holdout)


@pytest.mark.slow
@pytest.mark.parametrize("holdout", [0, "3d+7", 30])
def test_training_never_sees_a_held_out_pair(tmp_path, monkeypatch, holdout):
    seen = set()
    real_targets = target_bits

    def recording_targets(encoding, digits, numbers, *rest):
        seen.update(zip(digits.tolist(), numbers.tolist()))
        return real_targets(encoding, digits, numbers, *rest)

    monkeypatch.setattr(digit_training, "target_bits", recording_targets)
    data = prepare_data(train_size=3000, download=False)
    config = Config(epochs=1, train_size=3000, holdout=holdout, output_dir=str(tmp_path), seed=4).resolve()[0]
    model, optimizer, scheduler = make_training(config, len(data.train_x))
    train_epoch(model, data, optimizer, scheduler, 1, config, log=lambda line: None)
    held = pairs(held_out_pairs(holdout, 4))
    assert len(held) == {0: 0, "3d+7": 10, 30: 30}[holdout]
    assert not (seen & held) and len(seen) == 100 - len(held)


@pytest.mark.parametrize("number_input, width", [("bits", 4), ("onehot", 10), ("scalar", 1)])
def test_number_input_codes(number_input, width):
    numbers = torch.arange(10)
    features = number_features(int_to_bits(numbers, 4), number_input)
    assert features.shape == (10, width)
    expected = {"bits": int_to_bits(numbers, 4), "onehot": torch.eye(10), "scalar": numbers[:, None] / 9}
    assert torch.equal(features, expected[number_input])
    model = Net(number_input=number_input)
    assert model.head[0].in_features == 320 + width
    assert model(torch.randn(3, 1, 28, 28), int_to_bits(torch.tensor([0, 5, 9]), 4)).shape == (3, 9)
