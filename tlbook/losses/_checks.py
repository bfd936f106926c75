"""Shared by the losses: input validation (clear errors instead of silently wrong numbers)
and full precision under mixed-precision training."""
from __future__ import annotations

import functools
from typing import Callable

import torch

from .._checks import tensor

__all__ = ["at_least_float32", "check_pair", "full_precision"]


def check_pair(x: torch.Tensor, y: torch.Tensor, name: str, min_rows: int = 1, names: tuple[str, str] = ("x", "y")) -> None:
    """``x`` and ``y`` must be 2-D float tensors with the same number of columns and enough rows."""
    for argument, label, t in ((names[0], "source", x), (names[1], "target", y)):
        tensor(t, argument, name, ndim=2, min_rows=min_rows, what=f"{label} features (batch, features)")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"{name}: {names[0]} (source) has {x.shape[1]} features but {names[1]} (target) has {y.shape[1]}")


def full_precision(loss: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Run a two-sample loss ``loss(x, y, ...)`` in float32 even inside ``torch.autocast``.

    Kernel sums, covariances and high central moments lose their digits in float16 or
    bfloat16; the network may run in low precision, its distances must not. Float32 and
    float64 inputs outside autocast pass through unchanged.
    """

    @functools.wraps(loss)
    def wrapper(x: torch.Tensor, y: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        low = (torch.float16, torch.bfloat16)
        floats = isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and x.is_floating_point() and y.is_floating_point()
        if floats and (x.dtype in low or y.dtype in low or torch.is_autocast_enabled(x.device.type)):
            with torch.autocast(x.device.type, enabled=False):
                return loss(x.float(), y.float(), *args, **kwargs)
        return loss(x, y, *args, **kwargs)

    return wrapper


def at_least_float32(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float32 if it is float16 or bfloat16; float32 and float64 pass unchanged."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t
