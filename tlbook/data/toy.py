"""A 2-D toy shift: two moons, and the same moons rotated about their centre."""
from __future__ import annotations

import math

import torch

from .. import _checks

__all__ = ["moons"]


def moons(n: int, seed: int, rotation_deg: float = 0.0, noise: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of scikit-learn's two moons, centred, rotated by ``rotation_deg``."""
    n = _checks.integer(n, "n", "moons")
    seed = _checks.integer(seed, "seed", "moons", minimum=0)
    if seed >= 2**32:
        raise ValueError(f"moons: seed must be below 2**32 (scikit-learn's random_state), got {seed}")
    rotation_deg = _checks.number(rotation_deg, "rotation_deg", "moons")
    noise = _checks.number(noise, "noise", "moons", low=0)
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    x = torch.tensor(x, dtype=torch.float32) - torch.tensor([0.5, 0.25])
    a = math.radians(rotation_deg)
    rotation = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return x @ rotation.T, torch.tensor(y, dtype=torch.int64)
