"""Where the book keeps what it generates or downloads."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir() -> Path:
    """Where domains, source models and downloads are cached: ``$TLBOOK_DATA`` or ``~/.cache/tlbook``."""
    return Path(os.environ.get("TLBOOK_DATA", Path.home() / ".cache" / "tlbook"))
