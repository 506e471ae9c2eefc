"""Predict the digit in an image file and its sum with a number.

    python predict.py my_digit.png 7            # -> digit 5, sum 12

The image (PNG or JPEG, any size, color or gray, dark-on-light or light-on-dark) is converted to
MNIST's white-on-black 28x28 by `image_file_to_mnist`; the model is the shipped robust checkpoint
(models/robust.pt: the `wide` backbone trained with augment="robust" and centre_input=True, it holds up better
on digits that are not MNIST's and says when there is no digit) unless --model names another, e.g.
models/default.pt (the notebook's defaults).
"""
import argparse
import sys

from helpers.core.paths import MODELS, ROOT
from helpers.digit_and_sum.model import load_checkpoint
from helpers.digit_and_sum.inference import image_file_to_mnist, predict

DEFAULT_MODEL = MODELS / "robust.pt"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", help="PNG or JPEG file with one handwritten digit")
    parser.add_argument("number", help="an integer 0..9 to add to the digit")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"checkpoint (default: {DEFAULT_MODEL.relative_to(ROOT)})")
    parser.add_argument("--save-input", metavar="PNG", help="also save the 28x28 image the model sees")
    parser.add_argument("--device", default="cpu", help="where the model runs: 'cpu' (default), 'auto', 'cuda', 'mps', ...")
    args = parser.parse_args(argv)
    try:
        if not (args.number.isascii() and args.number.isdigit() and 0 <= int(args.number) <= 9):
            raise ValueError(f"number must be an integer 0..9, got {args.number!r}")
        number = int(args.number)
        pixels = image_file_to_mnist(args.image)
        if args.save_input:
            from PIL import Image
            Image.fromarray(pixels).save(args.save_input)
        digit, total, confidence = predict(load_checkpoint(args.model, args.device), pixels, number,
                                                   confidence=True)
    except (OSError, ValueError, TypeError) as error:
        print(f"predict.py: error: {error}", file=sys.stderr)
        return 2
    print(f"digit {digit}, sum {total}   ({digit} + {number} = {total}), confidence {confidence:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
