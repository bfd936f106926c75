"""Real handwritten digits: the UCI set that scikit-learn ships (1,797 images, 8×8)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _checks

__all__ = ["handwritten_digits"]

MAX_SIZE = 256  # pixels: 1,797 float images of 256×256 take half a gigabyte already


def handwritten_digits(image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits as ``(1797, 1, image_size, image_size)`` in ``[0, 1]``, and labels.

    The originals are 8×8 counts (0–16) of ink pixels in 4×4 blocks of a 32×32
    bitmap (Alpaydin & Kaynak, UCI 1998); they are rescaled to ``image_size``
    with bilinear interpolation, ink bright on a dark background like MNIST.
    ``image_size`` is 1 to ``MAX_SIZE`` pixels.
    """
    image_size = _checks.integer(image_size, "image_size", "handwritten_digits")
    if image_size > MAX_SIZE:
        raise ValueError(f"handwritten_digits: image_size must be at most {MAX_SIZE} pixels, got {image_size}")
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False)
    return images.clamp(0, 1), torch.tensor(digits.target, dtype=torch.int64)
