"""Checks of the fine-tuning functions' arguments, in ``tlbook._checks``'s message format: switches, lists of
names, parts of a cache file name, training settings and the source domain of a fine-tuning run."""
from __future__ import annotations

from collections.abc import Iterable

import torch

from .. import _checks
from ..data import Domain

_got = _checks._got


def flag(value: object, name: str, where: str) -> bool:
    """A switch: True or False (a string such as ``"False"`` would count as True)."""
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False, got {_got(value)}")
    return value


def names(value: object, name: str, where: str) -> list[str]:
    """A list of names (module names, parameter-name prefixes); a lone string is refused, not read letter by letter."""
    if isinstance(value, str):
        raise TypeError(f"{where}: {name} must be a list of names, got the string {value!r}: write {name}=[{value!r}]")
    if isinstance(value, (bytes, torch.Tensor)) or not isinstance(value, Iterable):
        raise TypeError(f"{where}: {name} must be a list of names (strings), got {_got(value)}")
    value = list(value)
    wrong = [item for item in value if not isinstance(item, str)]
    if wrong:
        raise TypeError(f"{where}: {name} must be a list of names (strings), got {_got(wrong[0])} in it")
    return value


def file_part(value: object, name: str, where: str) -> str:
    """A non-empty string that can be part of a file name (no path separator)."""
    if not isinstance(value, str):
        raise TypeError(f"{where}: {name} must be a string (part of the cache file's name), got {_got(value)}")
    if not value or any(sep in value for sep in "/\\") or value in (".", ".."):
        raise ValueError(f"{where}: {name} must be a non-empty name without '/' or '\\' (part of the cache file's "
                         f"name), got {value!r}")
    return value


def training(where: str, steps: object, batch_size: object, lr: object, seed: object) -> None:
    """``fit``'s settings, checked before anything is built or looked up in the cache."""
    _checks.integer(steps, "steps", where)
    _checks.integer(batch_size, "batch_size", where)
    _checks.number(lr, "lr", where, low=0.0, low_open=True)
    _checks.integer(seed, "seed", where, minimum=None)


def domain(value: object, name: str, where: str) -> Domain:
    """A ``tlbook.data.Domain``."""
    if not isinstance(value, Domain):
        raise TypeError(f"{where}: {name} must be a tlbook.data.Domain, got {_got(value)}")
    return value
