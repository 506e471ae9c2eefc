"""The shipped model, `predict` on every accepted input form and every bad one, and predict.py."""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from helpers.digit_and_sum.model import load_checkpoint
from helpers.digit_and_sum.encoding import decode_logits, encode_targets, int_to_bits
from helpers.digit_and_sum.evaluation import eval_numbers
from helpers.digit_and_sum.inference import answer_confidence, image_file_to_mnist, predict, to_mnist

import predict as predict_script
from conftest import ROOT

SHIPPED = ROOT / "models" / "default.pt"


@pytest.fixture(scope="module")
def model():
    return load_checkpoint(SHIPPED)


@pytest.fixture(scope="module")
def test_pairs(mnist):
    images, digits = mnist["test"]
    return images[:1000], digits[:1000], eval_numbers(10_000)[:1000]


@pytest.mark.parametrize("name", ["default.pt", "robust.pt", "symadder-k81.pt"])
def test_the_shipped_models_are_small_and_accurate(name, test_pairs):
    """A fixed model's evaluation, no training: another CPU changes its logits in the last bits only, so the threshold
    (above 98 %; they read about 99 %) holds on every CPU."""
    shipped = ROOT / "models" / name
    assert shipped.stat().st_size < 3 * 1024 * 1024  # robust.pt is the `wide` backbone: 620k weights, 2.5 MB
    model = load_checkpoint(shipped)
    images, digits, numbers = test_pairs
    pred_digits, pred_sums = predict(model, images, numbers)
    assert ((pred_digits == digits) & (pred_sums == digits + numbers)).float().mean() > 0.98
    assert not model.training


def test_single_image_gives_ints(model, test_pairs):
    images, digits, _ = test_pairs
    digit, total = predict(model, images[0], 7)
    assert type(digit) is int and type(total) is int
    assert (digit, total) == (digits[0].item(), digits[0].item() + 7)
    assert predict(model, images[0].numpy(), np.int64(7)) == (digit, total)


def test_every_accepted_form_gives_the_same_answer(model, test_pairs):
    images, _, numbers = test_pairs
    images, numbers = images[:20], numbers[:20]
    expected = predict(model, images, numbers)
    forms = [
        (images.unsqueeze(1), numbers),                      # N x 1 x 28 x 28
        (images.numpy(), numbers.numpy()),                   # numpy uint8, numpy ints
        (images.float() / 255, numbers.tolist()),            # floats in [0, 1], a list
        (images.double().numpy() / 255, tuple(numbers.tolist())),
        (images.long(), numbers.int()),                      # int64 pixels 0..255, int32 numbers
        (images.to(torch.int16).numpy(), numbers.numpy().astype(np.int8)),
    ]
    for batch, nums in forms:
        digits, sums = predict(model, batch, nums)
        assert torch.equal(digits, expected[0]) and torch.equal(sums, expected[1])


BAD = [
    # (what, images, numbers, error, words in the message)
    ("3-D single channel missing", torch.zeros(28, 28, 1, dtype=torch.uint8), 1, ValueError, "28x28"),
    ("wrong size", torch.zeros(2, 32, 32, dtype=torch.uint8), [1, 2], ValueError, "28x28"),
    ("rank 5", torch.zeros(1, 1, 1, 28, 28, dtype=torch.uint8), [1], ValueError, "28x28"),
    ("3 channels", torch.zeros(2, 3, 28, 28, dtype=torch.uint8), [1, 2], ValueError, "Nx1x28x28"),
    ("a list", [[0] * 28] * 28, 1, TypeError, "torch.Tensor or numpy array"),
    ("empty batch", torch.zeros(0, 28, 28, dtype=torch.uint8), [], ValueError, "empty"),
    ("fewer numbers", torch.zeros(3, 28, 28, dtype=torch.uint8), [1, 2], ValueError, "3 images but 2 numbers"),
    ("more numbers", torch.zeros(1, 28, 28, dtype=torch.uint8), [1, 2], ValueError, "1 images but 2 numbers"),
    ("number 10", torch.zeros(28, 28, dtype=torch.uint8), 10, ValueError, "0..9"),
    ("number -1", torch.zeros(2, 28, 28, dtype=torch.uint8), [1, -1], ValueError, "0..9"),
    ("number 3.5", torch.zeros(28, 28, dtype=torch.uint8), 3.5, TypeError, "an int"),
    ("number 3.0", torch.zeros(28, 28, dtype=torch.uint8), 3.0, TypeError, "an int"),
    ("number '7'", torch.zeros(28, 28, dtype=torch.uint8), "7", TypeError, "an int"),
    ("number True", torch.zeros(28, 28, dtype=torch.uint8), True, TypeError, "an int"),
    ("number None", torch.zeros(28, 28, dtype=torch.uint8), None, TypeError, "an int"),
    ("a list for one image", torch.zeros(28, 28, dtype=torch.uint8), [7], TypeError, "an int"),
    ("one int for a batch", torch.zeros(2, 28, 28, dtype=torch.uint8), 7, TypeError, "sequence of 2 ints"),
    ("a string for a batch", torch.zeros(2, 28, 28, dtype=torch.uint8), "77", TypeError, "sequence of 2 ints"),
    ("float in the list", torch.zeros(2, 28, 28, dtype=torch.uint8), [1, 2.5], TypeError, "2.5"),
    ("bool in the list", torch.zeros(2, 28, 28, dtype=torch.uint8), [1, True], TypeError, "True"),
    ("float tensor of numbers", torch.zeros(2, 28, 28, dtype=torch.uint8), torch.tensor([1.0, 2.0]), TypeError, "float"),
    ("bool array of numbers", torch.zeros(2, 28, 28, dtype=torch.uint8), np.array([True, False]), TypeError, "bool"),
    ("2-D numbers", torch.zeros(2, 28, 28, dtype=torch.uint8), torch.tensor([[1], [2]]), ValueError, "one-dimensional"),
    ("NaN pixel", torch.zeros(28, 28).index_fill_(0, torch.tensor([3]), float("nan")), 1, ValueError, "NaN"),
    ("infinite pixel", torch.zeros(28, 28).index_fill_(0, torch.tensor([3]), float("inf")), 1, ValueError, "infinite"),
    ("float above 1", torch.full((28, 28), 255.0), 1, ValueError, "[0, 1]"),
    ("float below 0", torch.full((28, 28), -0.5), 1, ValueError, "[0, 1]"),
    ("int above 255", torch.full((28, 28), 256), 1, ValueError, "0..255"),
    ("negative int", np.full((28, 28), -1, dtype=np.int32), 1, ValueError, "0..255"),
    ("bool pixels", torch.zeros(28, 28, dtype=torch.bool), 1, TypeError, "integer pixels 0..255 or floats"),
]


@pytest.mark.parametrize("what, images, numbers, error, words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_a_clear_error(model, what, images, numbers, error, words):
    with pytest.raises(error) as raised:
        predict(model, images, numbers)
    assert words in str(raised.value)


def cli(*args, capsys):
    """predict.py's main() in this process (the entry point itself runs once, in a subprocess, below)."""
    code = predict_script.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


@pytest.fixture(scope="module")
def photo(tmp_path_factory, mnist):
    """A test digit as a user would have it: large, RGB, dark ink on white paper, as PNG and JPEG."""
    images, digits = mnist["test"]
    big = Image.fromarray(255 - images[0].numpy()).resize((200, 240)).convert("RGB")
    folder = tmp_path_factory.mktemp("photos")
    big.save(folder / "digit.png")
    big.save(folder / "digit.jpg", quality=90)
    return folder, digits[0].item()


@pytest.mark.parametrize("name", ["digit.png", "digit.jpg"])
def test_command_line_predicts_from_an_image_file(photo, name, capsys):
    folder, digit = photo
    done = cli(folder / name, 4, capsys=capsys)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"digit {digit}, sum {digit + 4} ")


def test_image_file_conversion_is_mnist_like(photo, mnist):
    folder, _ = photo
    pixels = image_file_to_mnist(folder / "digit.png")
    assert pixels.dtype == np.uint8 and pixels.shape == (28, 28)
    assert pixels[0].max() == 0 and pixels[:, 0].max() == 0  # black background
    assert pixels.max() > 200  # white ink
    assert np.array_equal(pixels, image_file_to_mnist(folder / "digit.png"))  # the same every time


@pytest.mark.parametrize("args, words", [
    (["missing.png", 3], "no image at"),
    (["README.md", 3], "not a readable image"),
    (["{png}", 10], "integer 0..9"),
    (["{png}", "seven"], "integer 0..9"),
    (["{png}", "3.5"], "integer 0..9"),
    (["{png}", 3, "--model", "README.md"], "not a readable checkpoint"),
])
def test_command_line_errors_are_one_line(photo, args, words, capsys):
    png = photo[0] / "digit.png"
    done = cli(*[str(a).format(png=png) for a in args], capsys=capsys)
    assert done.returncode != 0
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_confidence_is_the_answers_share_of_the_valid_codes_likelihood(model, test_pairs):
    images, digits, numbers = test_pairs
    pred_digits, pred_sums, confidence = predict(model, images, numbers, confidence=True)
    assert torch.equal(pred_digits, predict(model, images, numbers)[0])
    assert ((confidence >= 0) & (confidence <= 1)).all()
    right = (pred_digits == digits) & (pred_sums == digits + numbers)
    assert confidence[right].mean() > 0.99 > 0.8 > confidence[~right].mean()  # wrong answers are less sure
    # by hand, for one pair: the 9 bits' likelihood of each candidate (d, d + n), normalized over the 10
    with torch.no_grad():
        logits = model((images[:1].float().div(255).unsqueeze(1) - model.mean) / model.std,
                       int_to_bits(numbers[:1], 4))[0]
    n = numbers[0].item()
    likelihood = [math.prod(torch.where(code > 0, logits.sigmoid(), 1 - logits.sigmoid()).tolist())
                  for code in (encode_targets(torch.tensor([d]), torch.tensor([n]))[0] for d in range(10))]
    assert confidence[0].item() == pytest.approx(likelihood[pred_digits[0].item()] / sum(likelihood), rel=1e-4)


def test_an_answer_that_is_no_valid_answer_has_confidence_zero():
    logits = torch.full((2, 9), -5.0)
    logits[0, :4] = 5  # digit code 15: invalid
    digits, sums = decode_logits(logits)
    confidence = answer_confidence("binary", logits, torch.tensor([3, 3]), digits, sums)
    assert confidence[0] == 0 and confidence[1] == 0  # the second: digit 0 with sum 0, but 0 + 3 != 0


def test_the_shipped_sample_digit_reads_as_a_five_from_the_command_line(tmp_path):
    """The script as a user runs it, from another folder (a new process: its entry point and exit code)."""
    done = subprocess.run([sys.executable, str(ROOT / "predict.py"), str(ROOT / "samples" / "five.png"), "7"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("digit 5, sum 12 ")


def test_a_decompression_bomb_is_one_clear_line(tmp_path, capsys):
    Image.new("1", (15_000, 15_000)).save(tmp_path / "bomb.png")  # 225 M pixels in a few kB: above PIL's limit
    done = cli(tmp_path / "bomb.png", 3, capsys=capsys)
    assert done.returncode == 2 and "too large to read safely" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize("ink, hidden", [((0, 0, 0, 255), (0, 0, 0, 0)), ((255, 255, 255, 255), (255, 255, 255, 0))])
def test_a_transparent_image_is_read_on_its_visible_colours(tmp_path, ink, hidden):
    """Black ink on a transparent background (whose hidden colour is black too) and white ink on a transparent
    white: both look like a digit, and both come out as the same white-on-black MNIST digit."""
    image = Image.new("RGBA", (200, 200), hidden)
    ImageDraw.Draw(image).line([(60, 40), (150, 40), (90, 170)], fill=ink, width=14)
    image.save(tmp_path / "seven.png")
    pixels = image_file_to_mnist(tmp_path / "seven.png")
    assert pixels[0].max() == 0 and pixels.max() == 255
    opaque = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(opaque).line([(60, 40), (150, 40), (90, 170)], fill=0, width=14)
    assert np.array_equal(pixels, to_mnist(np.asarray(opaque)))
