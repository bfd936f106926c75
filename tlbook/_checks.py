"""The package's boundary checks: one function per kind of argument, one message format.

Every public function checks what it is given before it works, with these, so a mistake gets a
``TypeError`` (wrong type or dtype) or a ``ValueError`` (wrong shape, size or value) that says
``"<function>: <argument> must be <what is expected>, got <what was given>"``, never a silent
wrong number or an error from deep inside torch. Losses check shapes, dtypes and sizes but do not
scan tensor values on the training path (``fit`` stops on a non-finite loss); everything else
may scan.
"""
from __future__ import annotations

import math
import operator
from typing import Sequence

import torch

__all__ = ["choice", "device", "integer", "labels", "module", "number", "same_rows", "schedule", "tensor"]


def _got(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r}"[:120]


def tensor(value: object, name: str, where: str, *, ndim: int | Sequence[int] | None = None, floating: bool | None = True,
           min_rows: int = 0, what: str = "") -> torch.Tensor:
    """``value`` must be a tensor with ``ndim`` dimensions (one of them, if several), floating point when
    ``floating`` (an integer type when False; None: either) and at least ``min_rows`` rows."""
    what = what or "a tensor"
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{where}: {name} must be {what} (a torch.Tensor), got {_got(value)}")
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim) if ndim is not None else None
    if allowed is not None and value.ndim not in allowed:
        dims = " or ".join(str(d) for d in allowed)
        raise ValueError(f"{where}: {name} must be {what} with {dims} dimension(s), got shape {tuple(value.shape)}")
    if floating is True and not value.is_floating_point():
        raise TypeError(f"{where}: {name} must be {what} of a floating-point dtype, got {value.dtype}")
    if floating is False and (value.is_floating_point() or value.is_complex() or value.dtype == torch.bool):
        raise TypeError(f"{where}: {name} must be {what} of an integer dtype, got {value.dtype}")
    if value.ndim and len(value) < min_rows:
        raise ValueError(f"{where}: {name} needs at least {min_rows} row{'' if min_rows == 1 else 's'}, got {len(value)}")
    return value


def labels(value: object, name: str, where: str, *, num_classes: int | None = None, n: int | None = None,
           min_rows: int = 0, any_integer: bool = False) -> torch.Tensor:
    """Class indices: a 1-D tensor of dtype int64 (any signed integer dtype with ``any_integer``; never uint8,
    which indexes as a mask), of ``n`` entries when given (at least ``min_rows``), with values in
    ``[0, num_classes)``; the error names the classes out of range. The range costs two reductions, as the
    losses' checks always did; the offending classes are listed only when there are some."""
    tensor(value, name, where, ndim=1, floating=False, min_rows=min_rows, what="class indices of shape (N,)")
    signed = (torch.int8, torch.int16, torch.int32, torch.int64) if any_integer else (torch.int64,)
    if value.dtype not in signed:
        kind = "a signed integer dtype" if any_integer else "dtype torch.int64 (torch.long)"
        raise TypeError(f"{where}: {name} must be class indices of {kind}, got {value.dtype}")
    if n is not None and len(value) != n:
        raise ValueError(f"{where}: {name} must hold one class per example, {n}, got {len(value)}")
    if num_classes is not None and len(value) and (value.min() < 0 or value.max() >= num_classes):
        wrong = value[(value < 0) | (value >= num_classes)]
        raise ValueError(f"{where}: {name} must lie in [0, {num_classes}), got class(es) {sorted(set(wrong.tolist()))[:10]}")
    return value


def same_rows(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str], where: str) -> None:
    """``a`` and ``b`` describe the same examples: one row each."""
    if len(a) != len(b):
        raise ValueError(f"{where}: {names[0]} and {names[1]} must have one row per example each, got {len(a)} and {len(b)}")


def integer(value: object, name: str, where: str, *, minimum: int | None = 1) -> int:
    """A Python or NumPy integer (not a bool) of at least ``minimum`` (None: any)."""
    try:
        if isinstance(value, bool) or (isinstance(value, torch.Tensor) and value.dtype == torch.bool):
            raise TypeError
        value = operator.index(value)  # ints, NumPy and 0-d torch integers; not floats, strings or arrays
    except TypeError:
        raise TypeError(f"{where}: {name} must be an integer, got {_got(value)}") from None
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: {name} must be an integer of at least {minimum}, got {value}")
    return value


def number(value: object, name: str, where: str, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, finite: bool = True) -> float:
    """A real number (not a bool), finite when ``finite``, in ``[low, high]`` (``(low, high]`` with ``low_open``)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex() and value.dtype != torch.bool:
        value = value.item()  # a one-number tensor (on a GPU this waits for it: hyper-parameters only)
    real = isinstance(value, (int, float)) or (hasattr(value, "__float__") and getattr(value, "ndim", 0) == 0
                                                and not isinstance(value, (str, bytes, complex, torch.Tensor))
                                                and not str(getattr(value, "dtype", "")).startswith("complex"))
    if isinstance(value, bool) or not real:
        raise TypeError(f"{where}: {name} must be a real number, got {_got(value)}")
    value = float(value)
    if math.isnan(value) or (finite and math.isinf(value)):
        raise ValueError(f"{where}: {name} must be a {'finite ' if finite else ''}number, not NaN{' or inf' if finite else ''}, got {value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    if too_low or (high is not None and value > high):
        left, right = ("(" if low_open else "[") + (f"{low:g}" if low is not None else "-inf"), f"{high:g}]" if high is not None else "inf)"
        raise ValueError(f"{where}: {name} must lie in {left}, {right}, got {value:g}")
    return value


def choice(value: object, name: str, where: str, options: Sequence[str]) -> str:
    """One of ``options``."""
    if not isinstance(value, str):
        raise TypeError(f"{where}: {name} must be one of {tuple(options)}, got {_got(value)}")
    if value not in options:
        raise ValueError(f"{where}: unknown {name} {value!r}; choose from {tuple(options)}")
    return value


def device(value: object, name: str, where: str) -> torch.device:
    """A device this machine has (a str or ``torch.device``): ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``...;
    a name torch does not know, or an accelerator (or index) the machine lacks, is refused before any work."""
    if not isinstance(value, (str, torch.device)):
        raise TypeError(f"{where}: {name} must be a device such as 'cpu' or 'cuda:0' (a str or torch.device), got {_got(value)}")
    try:
        chosen = torch.device(value)
    except RuntimeError:
        raise ValueError(f"{where}: {name} must be a device such as 'cpu' or 'cuda:0', got {value!r}") from None
    if chosen.type == "cpu":
        return chosen
    backend = getattr(torch, chosen.type, None)  # torch.cuda, torch.mps, torch.xpu...
    count = backend.device_count() if hasattr(backend, "is_available") and backend.is_available() else 0
    if (chosen.index or 0) >= count:
        raise ValueError(f"{where}: {name} {str(chosen)!r} does not exist on this machine ({count} {chosen.type} "
                         f"device(s)); use 'cpu'" + (f" or one of {chosen.type}:0..{count - 1}" if count else ""))
    return chosen


def module(value: object, name: str, where: str, *, what: str = "a torch.nn.Module") -> "torch.nn.Module":
    """A ``torch.nn.Module`` (a network, a discriminator...)."""
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{where}: {name} must be {what}, got {_got(value)}")
    return value


def schedule(value: object, name: str, where: str):
    """A function of the training progress ``p`` in [0, 1] giving a finite, non-negative factor: probed
    at ``p = 0`` and ``p = 1`` here, so a schedule that goes negative or NaN is refused before training."""
    if not callable(value):
        raise TypeError(f"{where}: {name} must be a function of the progress p in [0, 1], got {_got(value)}")
    for p in (0.0, 1.0):
        number(value(p), f"{name}({p:g})", where, low=0.0)
    return value
