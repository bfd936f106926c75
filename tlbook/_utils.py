"""Small helpers every notebook needs: pick a device, seed every generator (files: ``tlbook.files``)."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["device", "seed_everything"]


def device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` (or the environment variable ``TLBOOK_DEVICE``) forces a device,
    for example ``"cpu"`` to reproduce the book's CPU numbers on a GPU machine.
    """
    choice = prefer or os.environ.get("TLBOOK_DEVICE")
    if choice:
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and PyTorch's global generators (CPU and CUDA).

    Returns a fresh CPU ``torch.Generator`` seeded with ``seed`` for code that
    prefers an explicit generator over global state.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
