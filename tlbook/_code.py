"""Digests of tlbook's own source code: what ties stored results and cached files to the code that made them.

Standard library only, and read from the files on disk (nothing is imported), so a copy of the package
in another folder can be digested too (``root``).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

__all__ = ["PACKAGE", "python_files", "source_digest"]

PACKAGE = Path(__file__).resolve().parent  # the tlbook folder


def python_files(parts: Iterable[str], root: Path = PACKAGE, exclude: Iterable[str] = ()) -> list[str]:
    """The ``.py`` files (paths relative to ``root``, sorted) of ``parts`` (files or folders, relative to
    ``root``; ``"."`` is the whole package), minus those of ``exclude`` (files or folders)."""
    def expand(part: str) -> set[str]:
        path = root / part
        found = [path] if path.is_file() else path.rglob("*.py")
        return {p.relative_to(root).as_posix() for p in found if p.suffix == ".py" and "__pycache__" not in p.parts}

    excluded = set().union(*map(expand, exclude)) if exclude else set()
    return sorted(set().union(*map(expand, parts)) - excluded)


def source_digest(parts: Iterable[str], root: Path = PACKAGE, exclude: Iterable[str] = ()) -> str:
    """SHA-256 (hex) over the relative path and the bytes of each file of ``python_files(parts, root, exclude)``:
    any change to one of those files, a file added or one removed changes it; other files do not."""
    digest = hashlib.sha256()
    for name in python_files(parts, root, exclude):
        digest.update(f"{name}\0".encode())
        digest.update((root / name).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()
