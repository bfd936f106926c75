"""Checks of the modules' constructor arguments, in ``tlbook._checks``'s message format: layer widths,
switches and dropout probabilities (sizes and classes use ``_checks.integer``)."""
from __future__ import annotations

from .. import _checks

_got = _checks._got


def widths(value: object, name: str, where: str, *, empty: bool = False) -> tuple[int, ...]:
    """Layer widths: a tuple (or list) of positive integers, at least one unless ``empty``."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{where}: {name} must be a tuple of layer widths (positive integers), got {_got(value)}")
    if not value and not empty:
        raise ValueError(f"{where}: {name} must hold at least one layer width, got {value!r}")
    for width in value:
        try:
            _checks.integer(width, name, where)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{where}: {name} must be a tuple of positive integers, got {value!r}") from None
    return tuple(value)


def flag(value: object, name: str, where: str) -> bool:
    """A switch: True or False (a string such as ``"no"`` would count as True)."""
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False, got {_got(value)}")
    return value


def probability(value: object, name: str, where: str) -> float:
    """A dropout probability in [0, 1) (1 would drop everything)."""
    value = _checks.number(value, name, where, low=0.0, high=1.0)
    if value == 1.0:
        raise ValueError(f"{where}: {name} must lie in [0, 1), got 1")
    return value
