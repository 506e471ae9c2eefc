"""Inference, the API a user calls: `predict` on images and numbers of any accepted form (checked), with the answer's
confidence; image files and drawings read as MNIST's digits."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .encoding import decode_outputs, target_code
from .evaluation import pair_logits
from .model import Net, centre_of_mass


def as_images(images) -> tuple[torch.Tensor, bool]:
    """User images -> float (N, 1, 28, 28) in [0, 1], and whether a single image was given.

    Integer dtypes (uint8, int64, ...) hold raw pixels 0..255; float dtypes hold [0, 1].
    """
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor or numpy array, got {type(images).__name__}")
    shape = tuple(images.shape)
    if images.dim() not in (2, 3, 4) or shape[-2:] != (28, 28) or (images.dim() == 4 and shape[1] != 1):
        raise ValueError(f"images must be 28x28, Nx28x28 or Nx1x28x28, got shape {shape}")
    if images.numel() == 0:
        raise ValueError("images is an empty batch")
    single = images.dim() == 2
    if images.dtype == torch.bool or images.is_complex():
        raise TypeError(f"images must hold integer pixels 0..255 or floats in [0, 1], got {images.dtype}")
    if images.dtype.is_floating_point:
        if not torch.isfinite(images).all():
            raise ValueError("images contain NaN or infinite pixels")
        if images.min() < 0 or images.max() > 1:
            raise ValueError(f"float images must lie in [0, 1] (use uint8 for 0..255 pixels), "
                             f"got {images.min().item():g}..{images.max().item():g}")
        pixels = images.float()
    else:
        if images.min() < 0 or images.max() > 255:
            raise ValueError(f"integer images must hold pixels 0..255, got {images.min().item()}..{images.max().item()}")
        pixels = images.float() / 255
    return pixels.reshape(-1, 1, 28, 28), single


def as_numbers(numbers, count: int, single: bool) -> torch.Tensor:
    """User numbers -> int64 tensor of `count` values in 0..9: an int for one image, a sequence for a batch."""
    def bad(what):
        return TypeError(f"numbers must be {'an int' if single else f'a sequence of {count} ints'} in 0..9; got {what}")

    if single:
        if isinstance(numbers, (bool, np.bool_)) or not isinstance(numbers, (int, np.integer)):
            raise bad(repr(numbers))
        values = torch.tensor([int(numbers)])
    else:
        if isinstance(numbers, (str, bytes, int, float)) or not hasattr(numbers, "__len__"):
            raise bad(repr(numbers))
        if isinstance(numbers, (torch.Tensor, np.ndarray)):
            values = torch.as_tensor(numbers)
            if values.dtype.is_floating_point or values.dtype in (torch.bool, torch.complex64, torch.complex128):
                raise bad(f"dtype {values.dtype}")
            if values.dim() != 1:
                raise ValueError(f"numbers must be one-dimensional, got shape {tuple(values.shape)}")
        else:
            for value in numbers:
                if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                    raise bad(f"{value!r} in the sequence")
            values = torch.tensor([int(v) for v in numbers], dtype=torch.int64)
        if len(values) != count:
            raise ValueError(f"got {count} images but {len(values)} numbers; give one number per image")
    if values.min() < 0 or values.max() > 9:
        raise ValueError(f"numbers must be in 0..9, got {values.min().item()}..{values.max().item()}")
    return values.long()


def answer_confidence(encoding: str, logits: torch.Tensor, numbers: torch.Tensor, digits: torch.Tensor,
                      sums: torch.Tensor) -> torch.Tensor:
    """How sure the model is of its decoded answer, in [0, 1]: the likelihood of the answer's output code
    among the 10 codes that can be right for the number (digit d, sum d + number), normalized over
    them. 0 where the answer is none of them (an invalid code, or a sum that is not digit + number)."""
    logits = logits.float()
    candidates = torch.arange(10, device=logits.device).expand(len(numbers), 10)  # (N, 10) digits
    candidate_sums = candidates + numbers[:, None]
    if encoding == "softmax":
        log_likelihood = (logits[:, :10].log_softmax(-1).gather(1, candidates)
                          + logits[:, 10:].log_softmax(-1).gather(1, candidate_sums))
    else:
        codes = target_code(encoding, candidates, candidate_sums - candidates)  # (N, 10, outputs)
        log_likelihood = -F.binary_cross_entropy_with_logits(
            logits[:, None, :].expand_as(codes), codes, reduction="none").sum(-1)
    probability = log_likelihood.softmax(-1).gather(1, digits.clamp(max=9)[:, None])[:, 0]
    return torch.where((digits <= 9) & (sums == digits + numbers), probability, torch.zeros_like(probability))


def answers(model: Net, pixels: torch.Tensor, numbers: torch.Tensor) -> dict:
    """The model's logits (on the CPU), decoded digits and sums and their confidence for checked inputs: float pixels
    (N, 1, 28, 28) in [0, 1] and int64 numbers 0..9, on the CPU. The model's own normalization is applied; the model
    may be on any device."""
    logits = pair_logits(model, (pixels - model.mean) / model.std, numbers).float().cpu()
    digits, sums = decode_outputs(model.encoding, logits)
    return {"logits": logits, "digits": digits, "sums": sums,
            "confidence": answer_confidence(model.encoding, logits, numbers, digits, sums)}


def predict(model: Net, images, numbers, confidence: bool = False):
    """Predicted (digits, sums) for images and numbers 0..9: ints for one image, tensors for a batch.

    `images`: one 28x28 image or a batch (Nx28x28 or Nx1x28x28), tensor or numpy array; integer
    dtypes are raw pixels 0..255, float dtypes are in [0, 1]. `numbers`: an int for one image, a
    sequence / array / tensor of ints for a batch. The model's own normalization is applied. The
    model may be on any device; the answers come back on the CPU. A digit above 9 or a sum above 18
    is the model answering with an invalid code (about 3 in 10,000 pairs for the shipped model); it
    is returned as it is, never mapped to a valid answer. With `confidence`, a third value says how
    sure the model is of each answer (`answer_confidence`: a float in [0, 1]).
    """
    pixels, single = as_images(images)
    result = answers(model, pixels, as_numbers(numbers, len(pixels), single))
    values = (result["digits"], result["sums"], *([result["confidence"]] if confidence else []))
    return tuple(v.item() for v in values) if single else values


def read_gray(path) -> np.ndarray:
    """An image file as float gray levels 0..255, as it looks: a transparent background takes the colour that
    makes the visible strokes stand out (white behind dark ink, black behind light ink)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            rgba = np.asarray(image.convert("RGBA"), dtype=np.float64)
    except FileNotFoundError:
        raise FileNotFoundError(f"no image at {path}") from None
    except Image.DecompressionBombError as error:  # not an OSError
        raise ValueError(f"{path} is too large to read safely ({error})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"{path} is not a readable image ({error})") from None
    gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])  # PIL's "L" weights
    alpha = rgba[..., 3] / 255
    if alpha.min() < 1:
        ink_level = (gray * alpha).sum() / max(alpha.sum(), 1e-9)
        gray = gray * alpha + (255.0 if ink_level < 128 else 0.0) * (1 - alpha)
    return gray


def to_mnist(gray: np.ndarray) -> np.ndarray:
    """Gray levels 0..255 of any size (a photo, a scan, a drawing pad) -> uint8 28x28, white digit on black, as MNIST.

    Inverted when the background (the border) is light; cropped to the ink; scaled so the longer side is 20 px;
    centred by its centre of mass in 28x28 -- the same way every time. Raises ValueError for an image without ink.
    """
    from PIL import Image

    gray = np.asarray(gray, dtype=np.float64)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 127:
        gray = 255 - gray
    gray = gray - np.median(border if np.median(border) <= 127 else 255 - border)  # the paper's own level to 0
    ink = gray > 0.25 * gray.max() if gray.max() > 0 else np.zeros_like(gray, bool)
    if not ink.any():
        raise ValueError("no digit in it (a blank image)")
    rows, cols = np.nonzero(ink)
    crop = gray[rows.min():rows.max() + 1, cols.min():cols.max() + 1].clip(0, 255)
    scale = 20 / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    small = np.asarray(Image.fromarray(crop.astype(np.uint8)).resize(size, Image.Resampling.LANCZOS), dtype=np.float64)
    cx, cy = centre_of_mass(torch.from_numpy(small)).tolist()
    top, left = int(round(14 - cy)), int(round(14 - cx))
    top, left = min(max(top, 0), 28 - small.shape[0]), min(max(left, 0), 28 - small.shape[1])
    canvas = np.zeros((28, 28), dtype=np.uint8)
    canvas[top:top + small.shape[0], left:left + small.shape[1]] = small.clip(0, 255).round().astype(np.uint8)
    return canvas


def image_file_to_mnist(path) -> np.ndarray:
    """A PNG or JPEG of any size, color or gray, opaque or transparent -> uint8 28x28 as MNIST (`to_mnist`)."""
    try:
        return to_mnist(read_gray(path))
    except ValueError as error:
        if str(error).startswith("no digit"):
            raise ValueError(f"{path} has {error}") from None
        raise


__all__ = ["as_images", "as_numbers", "answer_confidence", "answers", "predict", "read_gray", "to_mnist",
           "image_file_to_mnist"]
