"""Shifts of digit images away from MNIST: stroke width, resolution, blur, noise, geometry, background, occlusion.

Image transforms only, knowing no task: the robustness benchmark (`robustness.py`) measures a model under each SHIFT
at 3 severities, and a training augmentation may draw from the same kinds of transforms with its own ranges.
"""
import inspect
import math

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF

# Each takes float images (N, 1, 28, 28) in [0, 1], white ink on black, and a severity value (those that draw at
# random also a seeded `generator`), and returns images of the same shape in [0, 1]. Severities: mild, middle, strong.


def morphology(images, size: int, grow: bool):
    """Grey dilation (thicker strokes) or erosion (thinner) with a size x size square, by max-pooling."""
    pad = (size // 2, (size - 1) // 2) * 2
    if grow:
        return F.max_pool2d(F.pad(images, pad, value=0.0), size, stride=1)
    return -F.max_pool2d(F.pad(-images, pad, value=-1.0), size, stride=1)


def thinner(images, amount):
    """Erode by 2x2, blended in by `amount` (1: the full erosion)."""
    return torch.lerp(images, morphology(images, 2, grow=False), amount)


def thicker(images, size):
    return morphology(images, size, grow=True)


def low_resolution(images, size):
    """Down to size x size and back up to 28 x 28, as a small or blurry scan."""
    small = TF.resize(images, [size, size], antialias=True)
    return TF.resize(small, [28, 28], antialias=True).clamp(0, 1)


def blur(images, sigma):
    return TF.gaussian_blur(images, kernel_size=[9, 9], sigma=[sigma, sigma])


def shot_noise(images, photons, generator):
    """Poisson noise: each pixel counts `photons` x its brightness photons (fewer: noisier)."""
    return (torch.poisson(images * photons, generator=generator) / photons).clamp(0, 1)


def impulse_noise(images, fraction, generator):
    """Salt and pepper: `fraction` of the pixels set to black or white at random."""
    u = torch.rand(images.shape, generator=generator)
    salt = torch.rand(images.shape, generator=generator) < 0.5
    return torch.where(u < fraction, salt.float(), images)


def affine(images, rotate=0.0, shear_x=0.0, shear_y=0.0, zoom=1.0, shift_x=0.0, shift_y=0.0):
    """Each image under its own affine map (angles in degrees, shifts in pixels; tensors of one value per
    image or floats), by one batched `affine_grid` + `grid_sample`, with a black fill."""
    n, device = len(images), images.device
    values = [torch.as_tensor(v, dtype=torch.float32, device=device).expand(n)
              for v in (rotate, shear_x, shear_y, zoom, shift_x, shift_y)]
    rotate, shear_x, shear_y, zoom, shift_x, shift_y = values
    a = torch.deg2rad(rotate)
    forward = torch.stack([torch.stack([torch.cos(a), -torch.sin(a)], -1), torch.stack([torch.sin(a), torch.cos(a)], -1)], -2)
    one = torch.ones(n, device=device)
    shears = torch.stack([torch.stack([one, torch.tan(torch.deg2rad(shear_x))], -1),
                          torch.stack([torch.tan(torch.deg2rad(shear_y)), one], -1)], -2)
    forward = forward @ shears * zoom[:, None, None]
    a, b, c, d = forward.flatten(1).unbind(-1)
    # affine_grid maps output coordinates to input coordinates: the inverse, in closed form (linalg.inv would make the
    # host wait for the device to check for singular matrices)
    inverse = torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2) / (a * d - b * c)[:, None, None]
    shift = torch.stack([shift_x, shift_y], -1) * 2 / 28
    theta = torch.cat([inverse, -(inverse @ shift[..., None])], -1)
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False)


def rotation(images, degrees, generator):
    """Rotated by exactly +-`degrees` (the sign at random)."""
    return affine(images, rotate=(torch.randint(0, 2, (len(images),), generator=generator) * 2 - 1) * degrees)


def shear(images, degrees, generator):
    """Sheared along x and y by angles drawn uniformly in +-`degrees`."""
    u = torch.rand(2, len(images), generator=generator) * 2 - 1
    return affine(images, shear_x=u[0] * degrees, shear_y=u[1] * degrees)


def scale(images, factor):
    """Shrunk to `factor` of the size about the centre."""
    return affine(images, zoom=factor)


def translation(images, pixels, generator):
    """Moved `pixels` off the centre in a random direction (MNIST centres by mass)."""
    angles = torch.rand(len(images), generator=generator) * 2 * math.pi
    return affine(images, shift_x=pixels * torch.cos(angles), shift_y=pixels * torch.sin(angles))


def elastic(images, alpha, generator, sigma: float = 4.0):
    """Elastic distortion as torchvision's ElasticTransform computes it (uniform displacements, smoothed by a
    Gaussian of `sigma`, scaled by `alpha`), one field per image, in one batched `grid_sample`."""
    n = len(images)
    displacement = torch.rand(n, 2, 28, 28, generator=generator) * 2 - 1
    size = int(8 * sigma + 1) | 1
    displacement = TF.gaussian_blur(displacement, [size, size], [sigma, sigma]) * alpha / 28
    identity = F.affine_grid(torch.eye(2, 3).expand(n, 2, 3), list(images.shape), align_corners=False)
    return F.grid_sample(images, identity + displacement.permute(0, 2, 3, 1), align_corners=False)


def inverted(images, contrast):
    """Black ink on a light background (as paper), at `contrast` (1: pure black on white)."""
    return (1 - images) * contrast + (1 - contrast) / 2


def uneven_background(images, strength, generator=None, angles=None):
    """A linear brightness gradient in a random direction (`angles`, (N, 1, 1, 1) radians, drawn from `generator`
    when not given), up to `strength` at one edge."""
    if angles is None:
        angles = (torch.rand(len(images), 1, 1, 1, generator=generator) * 2 * math.pi).to(images.device)
    y, x = torch.meshgrid(*[torch.linspace(-1, 1, 28, device=images.device)] * 2, indexing="ij")
    ramp = (x * torch.cos(angles) + y * torch.sin(angles) + 1) / 2  # 0 .. 1 across the image
    return (images + strength * ramp).clamp(0, 1)


def line_mask(angles, offsets, width) -> torch.Tensor:
    """(N, 1, 28, 28) masks of lines `width` px wide at `angles` (radians, (N, 1, 1, 1)) passing `offsets` px
    from the centre, on the device of `angles`."""
    centred = torch.arange(28.0, device=angles.device) - 13.5
    y, x = torch.meshgrid(centred, centred, indexing="ij")
    return (x * torch.sin(angles) - y * torch.cos(angles) - offsets).abs() < width / 2


def box_mask(corners: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    """(N, 1, 28, 28) masks of the boxes with top-left `corners` and `sizes` (each (N, 2, 1): rows, columns)."""
    pixels = torch.arange(28, device=corners.device)
    inside = (pixels >= corners) & (pixels < corners + sizes)  # (N, 2, 28)
    return (inside[:, 0, :, None] & inside[:, 1, None, :])[:, None]


def occluding_line(images, width, generator):
    """A black line of `width` px through the middle third of the image at a random angle."""
    n = len(images)
    angles = torch.rand(n, 1, 1, 1, generator=generator) * math.pi
    offsets = (torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * 28 / 3
    return images.masked_fill(line_mask(angles.to(images.device), offsets.to(images.device), width), 0.0)


SHIFTS = {  # name: (function, severities: mild, middle, strong)
    "thinner strokes": (thinner, (0.4, 0.7, 1.0)),
    "thicker strokes": (thicker, (2, 3, 4)),
    "low resolution": (low_resolution, (14, 10, 8)),
    "gaussian blur": (blur, (1.0, 1.5, 2.0)),
    "shot noise": (shot_noise, (60, 20, 8)),
    "impulse noise": (impulse_noise, (0.03, 0.08, 0.15)),
    "rotation": (rotation, (20, 35, 50)),
    "shear": (shear, (20, 35, 50)),
    "scale": (scale, (0.75, 0.6, 0.45)),
    "translation": (translation, (3, 5, 7)),
    "elastic": (elastic, (20.0, 35.0, 50.0)),
    "inverted": (inverted, (1.0, 0.75, 0.5)),
    "uneven background": (uneven_background, (0.3, 0.5, 0.7)),
    "occluding line": (occluding_line, (2, 3, 4)),
}


def shift(images: torch.Tensor, name: str, severity: int, seed: int = 0) -> torch.Tensor:
    """uint8 images (N, 28, 28) under shift `name` at severity 1..3 -> uint8 (N, 28, 28); the same for a seed."""
    function, values = SHIFTS[name]
    draws = {"generator": torch.Generator().manual_seed(seed * 1_000 + severity)}
    if "generator" not in inspect.signature(function).parameters:  # a shift that draws nothing
        draws = {}
    shifted = function(images.float().div(255).unsqueeze(1), values[severity - 1], **draws)
    return shifted.clamp(0, 1).mul(255).round().to(torch.uint8).squeeze(1)
