"""The benchmark's own argument checks, in ``tlbook._checks``'s message format: switches, seeds, results
files and folders, and the error for a name no registry knows."""
from __future__ import annotations

import os
from pathlib import Path

from .. import _checks

_got = _checks._got
SEED_LIMIT = 2**32  # NumPy's range of seeds; torch's generators take them too


class UnknownName(KeyError, ValueError):
    """A name (method, pair, study, configuration, cells of a method) that is not there: a ``KeyError`` to
    whoever looks it up, a ``ValueError`` to whoever checks arguments; its message lists what exists."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def flag(value: object, name: str, where: str) -> bool:
    """A switch: True or False (a string such as ``"no"`` would count as True)."""
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False, got {_got(value)}")
    return value


def seed(value: object, name: str, where: str) -> int:
    """A seed: a plain ``int`` in [0, 2³²) (what every generator of the package accepts)."""
    value = _checks.integer(value, name, where, minimum=0)
    if value >= SEED_LIMIT:
        raise ValueError(f"{where}: {name} must be an integer in [0, 2**32), got {value}")
    return int(value)


def text(value: object, name: str, where: str) -> str:
    """A non-empty string on one line (a name that goes into a CSV row or a command)."""
    if not isinstance(value, str):
        raise TypeError(f"{where}: {name} must be a string, got {_got(value)}")
    if not value.strip() or "\n" in value or "\r" in value:
        raise ValueError(f"{where}: {name} must be a non-empty string on one line, got {value!r}")
    return value


def path(value: object, name: str, where: str, *, suffix: str | None = None) -> Path:
    """A file path (a str or ``os.PathLike``, not a folder), ending in ``suffix`` when given."""
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)) or value == "":
        raise TypeError(f"{where}: {name} must be a file path (a str or pathlib.Path), got {_got(value)}")
    value = Path(value)
    if value.is_dir():
        raise ValueError(f"{where}: {name} must be a file, got the folder {value}")
    if suffix is not None and value.suffix != suffix:
        raise ValueError(f"{where}: {name} must be a {suffix} file, got {value}")
    return value


def folder(value: object, name: str, where: str, *, holding: str | None = None) -> Path:
    """An existing folder (holding the file or folder ``holding``, relative to it, when given)."""
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{where}: {name} must be a folder (a str or pathlib.Path), got {_got(value)}")
    value = Path(value)
    if not value.is_dir():
        raise ValueError(f"{where}: {name} must be an existing folder, got {value}")
    if holding is not None and not (value / holding).exists():
        raise ValueError(f"{where}: {name} must be the folder of the tlbook package (holding {holding}), got {value}")
    return value
