"""The ablation's output encodings and the held-out pairs."""
import pytest
import torch
import torch.nn.functional as F

import helpers

DIGITS, NUMBERS = torch.tensor([(d, n) for d in range(10) for n in range(10)]).T


def perfect_logits(encoding):
    if encoding == "binary":
        return helpers.encode_targets(DIGITS, NUMBERS) * 6 - 3
    return torch.cat([F.one_hot(DIGITS, 10), F.one_hot(DIGITS + NUMBERS, 19)], 1).float() * 6 - 3


@pytest.mark.parametrize("encoding", sorted(helpers.ENCODINGS))
def test_every_encoding_round_trips_all_100_pairs(encoding):
    digits, sums = helpers.decode_outputs(encoding, perfect_logits(encoding))
    assert torch.equal(digits, DIGITS) and torch.equal(sums, DIGITS + NUMBERS)
    model = helpers.Net("classic", encoding)
    assert model(torch.zeros(2, 1, 28, 28), torch.zeros(2, 4)).shape == (2, helpers.ENCODINGS[encoding])
    confident = helpers.output_loss(encoding, perfect_logits(encoding), DIGITS, NUMBERS)
    unsure = helpers.output_loss(encoding, torch.zeros_like(perfect_logits(encoding)), DIGITS, NUMBERS)
    assert confident < unsure


def test_one_hot_needs_exactly_one_output_on():
    logits = perfect_logits("onehot")[:3].clone()
    logits[0, 3] = 3          # two digit outputs on
    logits[1, 10:] = -3       # no sum output on
    digits, sums = helpers.decode_outputs("onehot", logits)
    assert digits[0] > 9 and sums[1] > 18
    assert (digits[2], sums[2]) == (DIGITS[2], DIGITS[2] + NUMBERS[2])


def test_held_out_pairs_leave_every_digit_and_number_seen():
    held = {(d, helpers.held_out_number(torch.tensor(d)).item()) for d in range(10)}
    assert len(held) == 10
    assert {d for d, _ in held} == set(range(10)) and {n for _, n in held} == set(range(10))
    assert {d + n for d, n in held} <= {d + n for d in range(10) for n in range(10) if (d, n) not in held}


@pytest.mark.parametrize("holdout", [False, True])
def test_training_never_sees_a_held_out_pair(tmp_path, monkeypatch, holdout):
    seen = set()
    real_loss = helpers.output_loss

    def recording_loss(encoding, logits, digits, numbers):
        seen.update(zip(digits.tolist(), numbers.tolist()))
        return real_loss(encoding, logits, digits, numbers)

    monkeypatch.setattr(helpers, "output_loss", recording_loss)
    data = helpers.prepare_data(train_size=3000, download=False)
    params = {**helpers.notebook_defaults(), "epochs": 1, "train_size": 3000, "holdout": holdout,
              "output_dir": str(tmp_path), "image_dir": None}
    model, optimizer, scheduler = helpers.make_training(params, len(data.train_x))
    helpers.train_epoch(model, data, optimizer, scheduler, 1, params, log=lambda line: None)
    held = {(d, helpers.held_out_number(torch.tensor(d)).item()) for d in range(10)}
    assert len(seen) == (90 if holdout else 100)
    assert not (seen & held) if holdout else held <= seen
