"""The MNIST-M protocol: blend a digit with a crop of a colour photograph.

Ganin et al. (JMLR 2016) built MNIST-M by taking, for each MNIST digit, a random
patch of a BSDS500 photo and computing ``|patch - digit|`` per colour channel: the
stroke inverts the photo's colours. We use the two photographs that scikit-learn
ships (``load_sample_images``), cropped at random scales for texture variety.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["sample_photos", "blend_with_photos"]


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
