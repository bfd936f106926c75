"""Where the book keeps what it generates or downloads."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir() -> Path:
    """Where domains, source models and downloads are cached: ``$TLBOOK_DATA`` or ``~/.cache/tlbook``.
    An empty ``TLBOOK_DATA`` is refused (it would put the cache in whatever folder Python runs in)."""
    folder = os.environ.get("TLBOOK_DATA")
    if folder is None:
        return Path.home() / ".cache" / "tlbook"
    if not folder.strip():
        raise ValueError(f"cache_dir: the environment variable TLBOOK_DATA must name a folder, got {folder!r}; "
                         "unset it to use ~/.cache/tlbook")
    return Path(folder)
