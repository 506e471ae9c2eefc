"""robustness.py: each shift is deterministic for a seed, keeps shape, dtype and range, and changes the image;
font digits are read through the same file path as predict.py."""
import numpy as np
import pytest
import torch

import helpers
import robustness


@pytest.fixture(scope="module")
def images(mnist):
    return mnist["test"][0][:64]


@pytest.mark.parametrize("name", list(robustness.SHIFTS))
def test_a_shift_is_deterministic_keeps_the_format_and_changes_the_image(images, name):
    for severity in (1, 2, 3):
        shifted = robustness.shift(images, name, severity, seed=3)
        assert shifted.shape == images.shape and shifted.dtype == torch.uint8
        assert torch.equal(shifted, robustness.shift(images, name, severity, seed=3))
        assert (shifted.float() - images.float()).abs().mean() > 2, f"{name} {severity} barely changes the images"
    if name != "inverted":  # its severity lowers the contrast of the inverted image: fewer pixels change
        mild, strong = (robustness.shift(images, name, s, seed=3).float() for s in (1, 3))
        assert (strong - images.float()).abs().mean() > (mild - images.float()).abs().mean()  # severity means more
    if name in ("shot noise", "impulse noise", "rotation", "shear", "translation", "elastic", "uneven background",
                "occluding line"):  # random draws: another seed draws differently
        assert not torch.equal(robustness.shift(images, name, 2, seed=3), robustness.shift(images, name, 2, seed=4))


def test_the_batched_affine_map_rotates_like_torchvision(images):
    import torchvision.transforms.v2.functional as TF
    x = images[:8].float().div(255).unsqueeze(1)
    ours, theirs = robustness.affine(x, rotate=-30.0), TF.rotate(x, 30.0)
    assert (ours - theirs).abs().mean() < 0.03 < (robustness.affine(x, rotate=30.0) - theirs).abs().mean()
    assert torch.allclose(robustness.affine(x), x, atol=1e-5)  # the identity


def test_font_digits_are_read_like_a_users_file(tmp_path):
    fonts = robustness.font_files()
    if not fonts:
        pytest.fail("no TrueType font on this machine (Debian's chromium, which .ci/run installs, brings some)")
    images, digits, names = robustness.font_digits(tmp_path)
    assert images.dtype == torch.uint8 and images.shape[1:] == (28, 28) and len(images) == len(digits) == len(names)
    assert set(digits.tolist()) == set(range(10))
    first = tmp_path / f"{names[0].rsplit('.', 1)[0]}-{digits[0].item()}.png"
    assert np.array_equal(images[0].numpy(), helpers.image_file_to_mnist(first))  # the file a user would give
