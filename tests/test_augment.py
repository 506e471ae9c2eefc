"""The augmentation: robust_augment's corruptions as named functions with their draws in one place make the same
images as the code before them (the stored fixture); tests/test_gpu_path.py checks how their draws reach the device."""
import torch

import helpers
from conftest import ROOT
from helpers import augment


def synthetic_batch():
    """48 seeded images of sparse bright 'ink', normalized as MNIST (no MNIST data is stored in the repository)."""
    return (torch.rand(48, 1, 28, 28, generator=torch.Generator().manual_seed(1)) ** 4 - 0.1307) / 0.3081


def test_robust_augment_makes_the_images_the_code_before_made():
    """tests/fixtures/robust_augment_1d67c3c.pt holds the old one-function robust_augment's output for this batch and
    seed. The draws come from torch's CPU generator and are exact; the images agree to float rounding (another CPU
    may round the resampling and blur differently in the last bit; on the machine that stored them: bit for bit)."""
    stored = torch.load(ROOT / "tests" / "fixtures" / "robust_augment_1d67c3c.pt")
    generator = torch.Generator().manual_seed(7)
    out, unknown = helpers.robust_augment(synthetic_batch(), generator, 0.1307, 0.3081)
    assert torch.equal(unknown, stored["unknown"]) and unknown.any()  # the same images without a digit
    assert torch.allclose(out, stored["out"], atol=1e-5, rtol=0)
    assert torch.equal(torch.rand(4, generator=generator), stored["after"])  # the same number of draws, in order


def test_every_corruption_is_a_named_function_and_changes_its_images():
    x = (synthetic_batch() * 0.3081 + 0.1307).clamp(0, 1)[:8]
    draws = augment.draw_corruptions(8, torch.Generator().manual_seed(0))
    for corruption in augment.CORRUPTIONS:
        changed = corruption(x, augment.Picked(draws, torch.arange(8)))
        assert changed.shape == x.shape and not torch.equal(changed, x), corruption.__name__
        assert 0 <= changed.min() and changed.max() <= 1, corruption.__name__
