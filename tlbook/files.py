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

import contextlib
import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import torch

from . import _checks

__all__ = ["CorruptFile", "KINDS", "digest", "load", "save"]

#: The kinds of file tlbook writes: a typo in ``kind`` would write a file that is never found again.
KINDS = ("checkpoint", "domain", "mnist-m", "model", "rendering", "run")


class CorruptFile(OSError):
    """A file ``tlbook`` wrote cannot be trusted: unreadable, of another kind, or altered."""


class _NotPlain(TypeError):
    """A value ``weights_only`` would refuse, with where it sits in the content (filled in on the way out)."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.kind, self.where = f"{type(value).__module__}.{type(value).__qualname__}", []


def _feed(hasher, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        flat = value.detach().to("cpu").contiguous().reshape(-1)
        hasher.update(f"tensor:{value.dtype}:{tuple(value.shape)}:".encode())
        hasher.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    elif isinstance(value, dict):
        hasher.update(f"dict:{len(value)}:".encode())
        for key, item in value.items():  # insertion order is part of what is saved
            try:
                _feed(hasher, key)
                _feed(hasher, item)
            except _NotPlain as error:
                error.where.append(f"[{key!r}]")
                raise
    elif isinstance(value, (list, tuple)):
        hasher.update(f"{type(value).__name__}:{len(value)}:".encode())
        for i, item in enumerate(value):
            try:
                _feed(hasher, item)
            except _NotPlain as error:
                error.where.append(f"[{i}]")
                raise
    elif value is None or type(value) in (bool, int, float, str):  # not a subclass (np.float64, TorchVersion): weights_only refuses those
        hasher.update(f"{type(value).__name__}:{value!r};".encode())
    else:
        raise _NotPlain(value)


def digest(content: Any) -> str:
    """SHA-256 of ``content`` (nested dicts, lists and tuples of tensors and plain values)."""
    return _digest(content, "digest")


def _digest(content: Any, where: str) -> str:
    hasher = hashlib.sha256()
    try:
        _feed(hasher, content)
    except _NotPlain as error:
        raise TypeError(f"{where}: content must hold tensors and plain values only (tlbook files load with "
                        f"weights_only=True); content{''.join(reversed(error.where))} is a {error.kind}") from None
    except RecursionError:
        raise ValueError(f"{where}: content must be a tree of dicts, lists and tuples, got one that contains itself "
                         "(or nests too deeply)") from None
    return hasher.hexdigest()


def _path(path: object, where: str) -> Path:
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: path must be a file path (a str or pathlib.Path), got {_checks._got(path)}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{where}: path must be a file, got the folder {path}")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ValueError(f"{where}: path {path} cannot be a file: {blocking} is a file, not a folder")
    return path


def _map_location(device: object) -> torch.device | None:
    """``load``'s device, checked before reading, so a wrong device is never blamed on the file."""
    return None if device is None else _checks.device(device, "map_location", "load")


def save(content: Any, path: str | Path, kind: str) -> None:
    """Write ``content`` to ``path`` with its digest: to a temporary file first, then renamed, so a
    reader (another notebook or test worker) never sees half a file and an interruption never leaves one."""
    kind = _checks.choice(kind, "kind", "save", KINDS)
    path = _path(path, "save")
    envelope = {"tlbook": kind, "sha256": _digest(content, "save"), "content": content}
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")  # one per writer
        torch.save(envelope, tmp)
        os.replace(tmp, path)
        tmp = None
    except PermissionError as error:
        raise PermissionError(f"cannot write {path}: the folder {path.parent} is not writable ({error.strerror})") from None
    finally:
        if tmp is not None:  # the write failed or was interrupted: no half file stays behind
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def load(path: str | Path, kind: str, map_location: str | torch.device | None = None) -> Any:
    """Read a file written by ``save(..., kind)``; ``CorruptFile`` when it can't be trusted."""
    kind = _checks.choice(kind, "kind", "load", KINDS)
    path = _path(path, "load")
    map_location = _map_location(map_location)
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
    try:
        sound = _digest(envelope["content"], "load") == envelope.get("sha256")
    except (TypeError, ValueError):  # weights_only lets only plain values through; a hand-made file may still nest oddly
        sound = False
    if not sound:
        raise CorruptFile(f"{path} does not match its checksum: the file was altered or damaged after it was written")
    return envelope["content"]
