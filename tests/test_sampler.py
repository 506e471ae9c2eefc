import pytest
import torch

from helpers.digit_and_sum.encoding import bits_to_int
from helpers.digit_and_sum.sampler import RandomSampler


def draw(n, seed=0):
    return bits_to_int(RandomSampler(n, seed=seed, dataset_size=n).getRandomBatch())


def test_range_includes_0_and_9_and_nothing_else():
    numbers = draw(10_000)
    assert numbers.min().item() == 0 and numbers.max().item() == 9


def test_one_batch_per_call_including_the_last_partial_batch():
    sampler = RandomSampler(128)
    sizes = [len(sampler.getRandomBatch()) for _ in range(len(sampler))]
    assert len(sampler) == 469
    assert sizes[:-1] == [128] * 468 and sizes[-1] == 60_000 % 128 == 96
    assert len(sampler.getRandomBatch()) == 128  # the next epoch starts over


def test_batches_match_a_dataloader_over_mnist_sized_data():
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(1000)), batch_size=300)
    sampler = RandomSampler(300, dataset_size=1000)
    assert [len(b[0]) for b in loader] == [len(sampler.getRandomBatch()) for _ in range(len(sampler))]


def test_float_bits_ready_to_concatenate_with_image_features():
    bits = RandomSampler(64).getRandomBatch()
    assert bits.dtype == torch.float32 and bits.shape == (64, 4)
    assert set(bits.unique().tolist()) == {0.0, 1.0}


def test_bits_are_most_significant_first():
    bits = RandomSampler(500, seed=7, dataset_size=500).getRandomBatch()
    for row, n in zip(bits.int().tolist(), bits_to_int(bits).tolist()):
        assert "".join(map(str, row)) == format(n, "04b")


def test_seeding():
    same = [RandomSampler(256, seed=5).getRandomBatch() for _ in range(2)]
    other = RandomSampler(256, seed=6).getRandomBatch()
    assert torch.equal(*same)
    assert not torch.equal(same[0], other)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "128", None])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size"):
        RandomSampler(bad)
