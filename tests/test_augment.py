"""The augmentation: robust_augment's corruptions as named functions with their draws in one place make the same
images as the code before them (the stored fixture); tests/test_gpu_path.py checks how their draws reach the device."""
import torch

from helpers.core.augment import random_affine
from helpers.digit_and_sum import corruptions as robust
from helpers.digit_and_sum.corruptions import robust_augment

from conftest import ROOT


def synthetic_batch():
    """48 seeded images of sparse bright 'ink', normalized as MNIST (no MNIST data is stored in the repository)."""
    return (torch.rand(48, 1, 28, 28, generator=torch.Generator().manual_seed(1)) ** 4 - 0.1307) / 0.3081


def test_robust_augment_makes_the_images_the_code_before_made():
    """tests/fixtures/robust_augment_1d67c3c.pt holds the old one-function robust_augment's output for this batch and
    seed. The draws come from torch's CPU generator and are exact; the images agree to float rounding (another CPU
    may round the resampling and blur differently in the last bit; on the machine that stored them: bit for bit)."""
    stored = torch.load(ROOT / "tests" / "fixtures" / "robust_augment_1d67c3c.pt")
    generator = torch.Generator().manual_seed(7)
    out, unknown = robust_augment(synthetic_batch(), generator, 0.1307, 0.3081)
    assert torch.equal(unknown, stored["unknown"]) and unknown.any()  # the same images without a digit
    assert torch.allclose(out, stored["out"], atol=1e-5, rtol=0)
    assert torch.equal(torch.rand(4, generator=generator), stored["after"])  # the same number of draws, in order


def test_every_corruption_is_a_named_function_and_changes_its_images():
    x = (synthetic_batch() * 0.3081 + 0.1307).clamp(0, 1)[:8]
    draws = robust.draw_corruptions(8, torch.Generator().manual_seed(0))
    for corruption in robust.CORRUPTIONS:
        changed = corruption(x, robust.DrawsOf(draws, torch.arange(8)))
        assert changed.shape == x.shape and not torch.equal(changed, x), corruption.__name__
        assert 0 <= changed.min() and changed.max() <= 1, corruption.__name__


def test_elastic_bends_each_image_by_a_smooth_bounded_field_and_leaves_the_affine_as_it_was():
    """`elastic` draws its field after the affine's values: without it the images and the generator's state are what
    they were; with it every pixel moves (read on an image of its own x and y coordinates) by at most 1.5x the setting
    (bicubic interpolation overshoots its 4x4 control points by up to about half), and neighbours move together."""
    images = synthetic_batch()
    plain, off, bent = (torch.Generator().manual_seed(3) for _ in range(3))
    before = random_affine(images, plain, -0.4242)
    assert torch.equal(random_affine(images, off, -0.4242, elastic=0.0), before)
    assert torch.equal(off.get_state(), plain.get_state())
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    coordinates = torch.stack([xs, ys])[None].expand(48, 2, 28, 28)
    moved = random_affine(coordinates, bent, 0.0, degrees=0, shift=0, scale=0, elastic=2.0)
    move = (moved - coordinates)[:, :, 2:-2, 2:-2]  # inside: the border samples the background
    assert 0.5 < move.abs().amax() <= 3.0 and move.abs().mean() > 0.2
    assert (move[..., 1:] - move[..., :-1]).abs().amax() < 1.0  # smooth: one pixel apart, the moves differ < 1 px
    assert not torch.equal(bent.get_state(), plain.get_state())  # the field's 48 x 2 x 16 draws came after the affine's
