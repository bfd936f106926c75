"""The MNIST-M protocol: blend a digit with a crop of a colour photograph.

Ganin et al. (JMLR 2016) built MNIST-M by taking, for each MNIST digit, a random
patch of a BSDS500 photo and computing ``|patch - digit|`` per colour channel: the
stroke inverts the photo's colours. We use the two photographs that scikit-learn
ships (``load_sample_images``), cropped at random scales for texture variety.
``published_mnist_m`` is the recipe itself, on the BSDS500 photographs (``tlbook.data.benchmarks``).
"""
from __future__ import annotations

from collections import abc
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .. import _checks

__all__ = ["blend_with_photos", "published_mnist_m", "sample_photos", "stroke_contrast"]


def sample_photos() -> list[torch.Tensor]:
    """scikit-learn's sample photographs as ``3×H×W`` float tensors in ``[0, 1]``."""
    from sklearn.datasets import load_sample_images

    return [torch.tensor(p, dtype=torch.float32).permute(2, 0, 1) / 255.0 for p in load_sample_images().images]


def _random_crops(photos: list[torch.Tensor], n: int, size: int, g: torch.Generator) -> torch.Tensor:
    """``n`` crops ``(n, 3, size, size)``: side between ``size`` and ``4·size``, resized."""
    which = torch.randint(len(photos), (n,), generator=g)
    sides = torch.randint(size, 4 * size + 1, (n,), generator=g)
    crops = torch.empty(n, 3, size, size)
    for i, (p, side) in enumerate(zip(which.tolist(), sides.tolist())):
        photo = photos[p]
        top = int(torch.randint(photo.shape[1] - side + 1, (1,), generator=g))
        left = int(torch.randint(photo.shape[2] - side + 1, (1,), generator=g))
        patch = photo[None, :, top : top + side, left : left + side]
        crops[i] = F.interpolate(patch, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    return crops


def blend_with_photos(digits: torch.Tensor, seed: int) -> torch.Tensor:
    """``|patch − digit|`` per channel for grey ``digits`` ``(n, 1, H, W)`` → ``(n, 3, H, W)``."""
    where = "blend_with_photos"
    _checks.tensor(digits, "digits", where, ndim=4, what="square grey images (n, 1, H, H)")
    if digits.shape[1] != 1 or digits.shape[2] != digits.shape[3] or digits.shape[2] == 0:
        raise ValueError(f"{where}: digits must be square grey images (n, 1, H, H), got shape {tuple(digits.shape)}")
    if digits.numel() and not (digits.min() >= 0 and digits.max() <= 1):  # NaN fails both
        raise ValueError(f"{where}: digits must lie in [0, 1], got values from {digits.min():g} to {digits.max():g}")
    seed = _checks.integer(seed, "seed", where, minimum=None)
    photos = sample_photos()
    limit = min(min(photo.shape[1:]) for photo in photos) // 4  # a crop's side goes up to 4 × the image's
    if digits.shape[-1] > limit:
        raise ValueError(f"{where}: digits must be at most {limit} pixels on a side (crops of up to four times "
                         f"that side are cut from photos of {tuple(photos[0].shape[1:])}), got {digits.shape[-1]}")
    g = torch.Generator().manual_seed(seed)
    patches = _random_crops(photos, len(digits), digits.shape[-1], g)
    return (patches - digits).abs()


def published_mnist_m(digits: np.ndarray, photos: Sequence[np.ndarray], seed: int) -> np.ndarray:
    """MNIST-M by the published recipe: ``uint8`` digits ``N×H×W`` → ``uint8`` images ``N×3×H×W``.

    Ganin et al. (JMLR 2016, §5.2) blend each MNIST digit over a patch "randomly extracted" from a
    BSDS500 photograph; the parameters below are those of the construction script in general use:

    - the digit is binarised, ``ink = 255·[digit > 0]``, the same in the three channels;
    - a photograph is drawn uniformly from ``photos`` (``H'×W'×3``, BSDS500's 200 training photos), and
      an ``H×W`` window at a uniformly drawn position in it, at full resolution (no rescaling);
    - ``out = |window − ink|`` per channel: the photo shows through the background, inverted under the stroke.
    """
    where = "published_mnist_m"
    if not isinstance(digits, np.ndarray) or digits.dtype != np.uint8:
        raise TypeError(f"{where}: digits must be a uint8 NumPy array N×H×W, got {type(digits).__name__} "
                        f"{getattr(digits, 'dtype', '')}")
    if digits.ndim != 3:
        raise ValueError(f"{where}: digits must be uint8 digits N×H×W, got shape {digits.shape}")
    n, height, width = digits.shape
    if isinstance(photos, (str, bytes)) or not isinstance(photos, (abc.Sequence, np.ndarray)):
        raise TypeError(f"{where}: photos must be a list of RGB photos H×W×3, got {type(photos).__name__}")
    if len(photos) == 0:
        raise ValueError(f"{where}: photos must hold at least one photo to cut windows from, got none")
    for photo in photos:
        if not isinstance(photo, np.ndarray) or photo.dtype != np.uint8:
            raise TypeError(f"{where}: photos must be uint8 NumPy arrays H×W×3, got one of {type(photo).__name__} "
                            f"{getattr(photo, 'dtype', '')}")
        if photo.ndim != 3 or photo.shape[2] != 3 or photo.shape[0] < height or photo.shape[1] < width:
            raise ValueError(f"{where}: photos must be RGB photos H×W×3 of at least {height}×{width}, got one of "
                             f"shape {photo.shape}")
    rng = np.random.default_rng(_checks.integer(seed, "seed", where, minimum=0))
    ink = (digits > 0).astype(np.int16)[:, None] * 255
    out = np.empty((n, 3, height, width), np.uint8)
    for i in range(n):
        photo = photos[rng.integers(len(photos))]
        top, left = rng.integers(photo.shape[0] - height + 1), rng.integers(photo.shape[1] - width + 1)
        window = photo[top : top + height, left : left + width].transpose(2, 0, 1).astype(np.int16)
        out[i] = np.abs(window - ink[i])
    return out


#: The book's bins of ``stroke_contrast`` (chapters 3 and 4): strokes darker than their background (the photo crop
#: was bright and the blend inverted them), nearly invisible, and brighter than their background as in the source.
CONTRAST_BINS: dict[str, tuple[float, float]] = {
    "dark stroke": (-1.0, -0.3),
    "dim dark stroke": (-0.3, -0.1),
    "invisible stroke": (-0.1, 0.1),
    "dim bright stroke": (0.1, 0.3),
    "bright stroke": (0.3, 1.0),
}


def stroke_contrast(digits: torch.Tensor, blended: torch.Tensor, ink: float = 0.6, background: float = 0.05) -> torch.Tensor:
    """Per image, mean brightness of the stroke minus that of the background in ``blended``.

    ``digits`` are the grey originals (pixels above ``ink`` are stroke, below ``background`` are
    background; the first channel is read) and ``blended`` their MNIST-M versions, in the same order.
    Positive: the stroke is brighter than its background, as in the source; negative: the photo crop
    was bright and the blend inverted the stroke (dark on light).
    """
    where = "stroke_contrast"
    _checks.tensor(digits, "digits", where, ndim=4, what="grey images (n, C, H, W)")
    _checks.tensor(blended, "blended", where, ndim=4, what="blended images (n, C, H, W)")
    if digits.shape[0] != blended.shape[0] or digits.shape[-2:] != blended.shape[-2:]:
        raise ValueError(f"{where}: digits {tuple(digits.shape)} and blended {tuple(blended.shape)} must be the same images")
    if digits.device != blended.device:
        raise ValueError(f"{where}: digits and blended must be on one device, got {digits.device} and {blended.device}")
    ink = _checks.number(ink, "ink", where, low=0, high=1)
    background = _checks.number(background, "background", where, low=0, high=1)
    if background >= ink:
        raise ValueError(f"{where}: background must be below ink (a pixel is stroke or background, never both), "
                         f"got background={background:g} and ink={ink:g}")

    def mean_over(mask: torch.Tensor) -> torch.Tensor:
        mask = mask.to(blended.dtype)
        return (blended * mask).sum((1, 2, 3)) / (blended.shape[1] * mask.sum((1, 2, 3))).clamp_min(1)

    grey = digits[:, :1]
    return mean_over(grey > ink) - mean_over(grey < background)
