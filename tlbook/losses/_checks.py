"""Input validation shared by the losses: clear errors instead of silently wrong numbers."""
from __future__ import annotations

import torch

__all__ = ["check_pair"]


def check_pair(x: torch.Tensor, y: torch.Tensor, name: str, min_rows: int = 1) -> None:
    """``x`` and ``y`` must be 2-D float tensors with the same number of columns and enough rows."""
    for label, t in (("source", x), ("target", y)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: {label} must be a torch.Tensor, got {type(t).__name__}")
        if t.ndim != 2:
            raise ValueError(f"{name}: {label} features must be 2-D (batch, features), got shape {tuple(t.shape)}")
        if not t.is_floating_point():
            raise TypeError(f"{name}: {label} features must be floating point, got {t.dtype}")
        if t.shape[0] < min_rows:
            raise ValueError(f"{name}: needs at least {min_rows} {label} examples per batch, got {t.shape[0]}")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"{name}: source has {x.shape[1]} features but target has {y.shape[1]}")
