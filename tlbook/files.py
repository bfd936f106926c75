"""The files ``tlbook`` writes and reads back: checksummed, written atomically, and safe to load.

Every file (cached domains, cached pretrained networks, training checkpoints, PixelDA's rendered
samples) is one ``torch.save`` of

    ``{"tlbook": kind, "sha256": digest, "content": content}``

where ``content`` holds only tensors and plain Python values (dicts, lists, tuples, strings,
numbers, ``None``), so ``torch.load(path, weights_only=True)`` reads it without running any code,
and ``digest`` is a SHA-256 over the content (keys, types, dtypes, shapes and bytes). ``load``
checks all three and raises ``CorruptFile``, naming the file and what to do, when a file is
truncated, is not a ``tlbook`` file of that kind, or no longer matches its digest (a flipped byte).
Callers holding derived data (caches) regenerate it; callers holding work (checkpoints) stop.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch

__all__ = ["CorruptFile", "digest", "load", "save"]


class CorruptFile(OSError):
    """A file ``tlbook`` wrote cannot be trusted: unreadable, of another kind, or altered."""


def _feed(hasher, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        flat = value.detach().to("cpu").contiguous().reshape(-1)
        hasher.update(f"tensor:{value.dtype}:{tuple(value.shape)}:".encode())
        hasher.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    elif isinstance(value, dict):
        hasher.update(f"dict:{len(value)}:".encode())
        for key, item in value.items():  # insertion order is part of what is saved
            _feed(hasher, key)
            _feed(hasher, item)
    elif isinstance(value, (list, tuple)):
        hasher.update(f"{type(value).__name__}:{len(value)}:".encode())
        for item in value:
            _feed(hasher, item)
    elif value is None or type(value) in (bool, int, float, str):  # not a subclass (np.float64, TorchVersion): weights_only refuses those
        hasher.update(f"{type(value).__name__}:{value!r};".encode())
    else:
        raise TypeError(f"tlbook files hold tensors and plain values only (so that they load with "
                        f"weights_only=True); got a {type(value).__module__}.{type(value).__qualname__}")


def digest(content: Any) -> str:
    """SHA-256 of ``content`` (nested dicts, lists and tuples of tensors and plain values)."""
    hasher = hashlib.sha256()
    _feed(hasher, content)
    return hasher.hexdigest()


def save(content: Any, path: str | Path, kind: str) -> None:
    """Write ``content`` to ``path`` with its digest: to a temporary file first, then renamed, so a
    reader (another notebook or test worker) never sees half a file and an interruption never leaves one."""
    path = Path(path)
    envelope = {"tlbook": kind, "sha256": digest(content), "content": content}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save(envelope, tmp)
        tmp.replace(path)
    except PermissionError as error:
        raise PermissionError(f"cannot write {path}: the folder {path.parent} is not writable ({error.strerror})") from None


def load(path: str | Path, kind: str, map_location: str | torch.device | None = None) -> Any:
    """Read a file written by ``save(..., kind)``; ``CorruptFile`` when it can't be trusted."""
    path = Path(path)
    try:
        envelope = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # truncated, empty, not a torch file, or holding pickled objects
        first_line = (str(error).splitlines() or ["the file is empty or cut short"])[0][:200]
        raise CorruptFile(f"{path} is unreadable ({type(error).__name__}: {first_line})") from None
    if not isinstance(envelope, dict) or envelope.get("tlbook") != kind or "content" not in envelope:
        found = envelope.get("tlbook") if isinstance(envelope, dict) else type(envelope).__name__
        raise CorruptFile(f"{path} is not a tlbook {kind} file (found: {found!r})")
    if digest(envelope["content"]) != envelope.get("sha256"):
        raise CorruptFile(f"{path} does not match its checksum: the file was altered or damaged after it was written")
    return envelope["content"]
