"""The MNIST-M protocol: blend a digit with a crop of a colour photograph.

Ganin et al. (JMLR 2016) built MNIST-M by taking, for each MNIST digit, a random
patch of a BSDS500 photo and computing ``|patch - digit|`` per colour channel: the
stroke inverts the photo's colours. We use the two photographs that scikit-learn
ships (``load_sample_images``), cropped at random scales for texture variety.
``published_mnist_m`` is the recipe itself, on the BSDS500 photographs (``tlbook.data.benchmarks``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

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
    if digits.ndim != 4 or digits.shape[1] != 1 or digits.shape[2] != digits.shape[3]:
        raise ValueError(f"expected square grey images (n, 1, H, H), got {tuple(digits.shape)}")
    g = torch.Generator().manual_seed(seed)
    patches = _random_crops(sample_photos(), len(digits), digits.shape[-1], g)
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
    if digits.ndim != 3 or digits.dtype != np.uint8:
        raise ValueError(f"expected uint8 digits N×H×W, got {digits.dtype} {digits.shape}")
    n, height, width = digits.shape
    for photo in photos:
        if photo.ndim != 3 or photo.shape[2] != 3 or photo.shape[0] < height or photo.shape[1] < width:
            raise ValueError(f"expected RGB photos H×W×3 of at least {height}×{width}, got one of {photo.shape}")
    rng = np.random.default_rng(seed)
    ink = (digits > 0).astype(np.int16)[:, None] * 255
    out = np.empty((n, 3, height, width), np.uint8)
    for i in range(n):
        photo = photos[rng.integers(len(photos))]
        top, left = rng.integers(photo.shape[0] - height + 1), rng.integers(photo.shape[1] - width + 1)
        window = photo[top : top + height, left : left + width].transpose(2, 0, 1).astype(np.int16)
        out[i] = np.abs(window - ink[i])
    return out


def stroke_contrast(digits: torch.Tensor, blended: torch.Tensor, ink: float = 0.6, background: float = 0.05) -> torch.Tensor:
    """Per image, mean brightness of the stroke minus that of the background in ``blended``.

    ``digits`` are the grey originals (pixels above ``ink`` are stroke, below ``background`` are
    background; the first channel is read) and ``blended`` their MNIST-M versions, in the same order.
    Positive: the stroke is brighter than its background, as in the source; negative: the photo crop
    was bright and the blend inverted the stroke (dark on light).
    """
    if digits.shape[0] != blended.shape[0] or digits.shape[-2:] != blended.shape[-2:]:
        raise ValueError(f"digits {tuple(digits.shape)} and blended {tuple(blended.shape)} must be the same images")

    def mean_over(mask: torch.Tensor) -> torch.Tensor:
        mask = mask.to(blended.dtype)
        return (blended * mask).sum((1, 2, 3)) / (blended.shape[1] * mask.sum((1, 2, 3))).clamp_min(1)

    grey = digits[:, :1]
    return mean_over(grey > ink) - mean_over(grey < background)
