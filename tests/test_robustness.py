"""shifts.py and robustness.py: each shift is deterministic for a seed, keeps shape, dtype and range, and changes the image;
font digits are read through the same file path as predict.py."""
import math

import numpy as np
import pytest
import torch

from helpers.core import shifts
from helpers.core.mnist import prepare_data
from helpers.core.paths import ROOT
from helpers.core.checkpoints import save_checkpoint
from helpers.digit_and_sum.model import CHECKPOINT_FORMAT, load_checkpoint
from helpers.digit_and_sum.encoding import int_to_bits, output_loss
from helpers.digit_and_sum.inference import image_file_to_mnist, predict
from helpers.digit_and_sum.model import CentreByMass, Net
from helpers.digit_and_sum.corruptions import robust_augment
from helpers.digit_and_sum.settings import Config
from helpers.digit_and_sum.train import make_training, train_epoch

import robustness


@pytest.fixture(scope="module")
def images(mnist):
    return mnist["test"][0][:64]


@pytest.mark.parametrize("name", list(shifts.SHIFTS))
def test_a_shift_is_deterministic_keeps_the_format_and_changes_the_image(images, name):
    for severity in (1, 2, 3):
        shifted = shifts.shift(images, name, severity, seed=3)
        assert shifted.shape == images.shape and shifted.dtype == torch.uint8
        assert torch.equal(shifted, shifts.shift(images, name, severity, seed=3))
        assert (shifted.float() - images.float()).abs().mean() > 2, f"{name} {severity} barely changes the images"
    if name != "inverted":  # its severity lowers the contrast of the inverted image: fewer pixels change
        mild, strong = (shifts.shift(images, name, s, seed=3).float() for s in (1, 3))
        assert (strong - images.float()).abs().mean() > (mild - images.float()).abs().mean()  # severity means more
    if name in ("shot noise", "impulse noise", "rotation", "shear", "translation", "elastic", "uneven background",
                "occluding line"):  # random draws: another seed draws differently
        assert not torch.equal(shifts.shift(images, name, 2, seed=3), shifts.shift(images, name, 2, seed=4))


def test_the_batched_affine_map_rotates_like_torchvision(images):
    import torchvision.transforms.v2.functional as TF
    x = images[:8].float().div(255).unsqueeze(1)
    ours, theirs = shifts.affine(x, rotate=-30.0), TF.rotate(x, 30.0)
    assert (ours - theirs).abs().mean() < 0.03 < (shifts.affine(x, rotate=30.0) - theirs).abs().mean()
    assert torch.allclose(shifts.affine(x), x, atol=1e-5)  # the identity


def test_a_line_mask_covers_the_pixels_of_its_line():
    zero, quarter = torch.zeros(1, 1, 1, 1), torch.full((1, 1, 1, 1), math.pi / 2)
    horizontal = shifts.line_mask(zero, zero, 2)[0, 0]  # through the centre, 2 px wide: rows 13 and 14
    assert horizontal[13:15].all() and horizontal.sum() == 2 * 28
    vertical = shifts.line_mask(quarter, torch.full((1, 1, 1, 1), 4.5), 1)[0, 0]  # 4.5 px right of the centre: column 18
    assert vertical[:, 18].all() and vertical.sum() == 28


def test_font_digits_are_read_like_a_users_file(tmp_path):
    fonts = robustness.font_files()
    if not fonts:
        pytest.fail("no TrueType font on this machine (Debian's chromium, which .ci/run installs, brings some)")
    images, digits, names = robustness.font_digits(tmp_path)
    assert images.dtype == torch.uint8 and images.shape[1:] == (28, 28) and len(images) == len(digits) == len(names)
    assert set(digits.tolist()) == set(range(10))
    first = tmp_path / f"{names[0].rsplit('.', 1)[0]}-{digits[0].item()}.png"
    assert np.array_equal(images[0].numpy(), image_file_to_mnist(first))  # the file a user would give


# ---------------------------------------------------------------- augment="robust": the training side


def test_robust_augment_is_seeded_keeps_the_format_and_marks_the_no_digit_images(data):
    images = data.train_x[:512]
    first = robust_augment(images, torch.Generator().manual_seed(5), data.mean, data.std)
    again = robust_augment(images, torch.Generator().manual_seed(5), data.mean, data.std)
    other = robust_augment(images, torch.Generator().manual_seed(6), data.mean, data.std)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1]) and not torch.equal(first[0], other[0])
    augmented, unknown = first
    assert augmented.shape == images.shape and augmented.dtype == images.dtype and unknown.shape == (512,)
    pixels = augmented * data.std + data.mean
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5  # still images in [0, 1], normalized
    unchanged = (augmented - images).flatten(1).abs().amax(1) < 1e-6
    assert 0.3 < unchanged.float().mean() < 0.5  # `clean` = 0.4 of them stay as they are
    assert 3 <= unknown.sum() <= 35 and not unchanged[unknown].any()  # about 3 % have no digit


def test_no_digit_images_are_trained_towards_dont_know():
    digits, numbers = torch.tensor([3, 7]), torch.tensor([4, 9])
    unknown = torch.tensor([True, False])
    for encoding, width in (("binary", 9), ("onehot", 29), ("softmax", 29)):
        logits = torch.zeros(2, width, requires_grad=True)
        output_loss(encoding, logits, digits, numbers, unknown).backward()
        # at even outputs the "don't know" row is already at its target: no gradient; the digit row has one
        assert logits.grad[0].abs().max() < 1e-7 < logits.grad[1].abs().max()


@pytest.mark.slow
def test_a_robust_run_trains_and_its_loss_falls():
    config = Config(augment="robust", epochs=2, device="cpu", precision="fp32")
    small = prepare_data(train_size=1024, download=False)
    model, optimizer, scheduler = make_training(config, len(small.train_x))
    losses = [torch.stack(train_epoch(model, small, optimizer, scheduler, epoch, config, log=lambda *a: None)).mean()
              for epoch in (1, 2)]
    assert all(math.isfinite(x) for x in losses) and losses[1] < losses[0]


def test_the_shipped_robust_model_is_unsure_without_a_digit(mnist):
    """A fixed model, no training: thresholds (below 0.5 without a digit, above 0.9 with one) that hold on every CPU."""
    model = load_checkpoint(ROOT / "models" / "robust.pt")
    clean = mnist["test"][0][:100]
    generator = torch.Generator().manual_seed(0)
    blank = torch.zeros(10, 28, 28, dtype=torch.uint8)
    noise = (torch.rand(10, 28, 28, generator=generator) * 255).to(torch.uint8)
    numbers = torch.arange(10)
    sure = predict(model, clean, numbers.repeat(10), confidence=True)[2]
    for name, images in (("blank", blank), ("noise", noise)):
        unsure = predict(model, images, numbers, confidence=True)[2]
        assert ((unsure >= 0) & (unsure <= 1)).all()
        assert unsure.max() < 0.5 < 0.9 < sure.median(), name


def shift_by_pixels(images, dx, dy):
    """Whole-pixel translation with a black fill (no interpolation)."""
    moved = torch.zeros_like(images)
    moved[..., max(dy, 0):28 + min(dy, 0), max(dx, 0):28 + min(dx, 0)] = \
        images[..., max(-dy, 0):28 + min(-dy, 0), max(-dx, 0):28 + min(-dx, 0)]
    return moved


def centre_by_mass(images):
    return CentreByMass()(images)


def test_centring_by_mass_undoes_a_translation_on_either_background(mnist):
    x = mnist["test"][0][:200].float().div(255).unsqueeze(1)
    centred = centre_by_mass(x)
    assert centred.shape == x.shape and centred.dtype == x.dtype
    for dx, dy in ((4, 0), (-3, 3), (0, -4)):
        moved = shift_by_pixels(x, dx, dy)
        before = (moved - x).abs().mean()
        assert (centre_by_mass(moved) - centred).abs().mean() < 0.2 * before, (dx, dy)
        paper = centre_by_mass(1 - moved)  # dark ink on a light background
        assert ((1 - paper) - centred).abs().mean() < 0.2 * before, (dx, dy)
    assert (centre_by_mass(centred) == centred).all()  # centred stays centred


def test_a_centring_model_centres_first_and_keeps_it_in_its_checkpoint(tmp_path, data):
    config = Config(centre_input=True, epochs=1, device="cpu", precision="fp32")
    model = make_training(config, 128)[0].eval()
    save_checkpoint(tmp_path / "model.pt", CHECKPOINT_FORMAT, "digit_and_sum", model.state_dict(), **model.settings(),
                    mean=data.mean, std=data.std)
    loaded = load_checkpoint(tmp_path / "model.pt")
    assert loaded.centre_input and not load_checkpoint(ROOT / "models" / "default.pt").centre_input
    plain = Net(centre_input=False).eval()
    plain.load_state_dict(loaded.state_dict())
    images, bits = data.eval_x[:8], int_to_bits(torch.arange(8), 4)
    with torch.no_grad():
        assert torch.equal(loaded(images, bits), plain(centre_by_mass(images), bits))
        assert not torch.equal(loaded(images, bits), plain(images, bits))


def test_the_comparison_writes_its_table_and_figure_from_the_committed_results(tmp_path):
    """`python robustness.py --compare`'s work on copies of the committed results: the summary's table is the one
    committed, and the figure is drawn (it imports the figures from where they live)."""
    import shutil
    out = tmp_path / "robustness"
    shutil.copytree(ROOT / "results" / "robustness", out)
    names = ["default", "robust", "robust-wide"]
    table = robustness.compare(names, out, tmp_path / "images")
    assert table in (ROOT / "results" / "robustness" / "summary.md").read_text()
    assert (tmp_path / "images" / "robustness_comparison.png").stat().st_size > 10_000
