"""Small helpers every notebook needs: pick a device, seed every generator (files: ``tlbook.files``)."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["SeededNoise", "device", "seed_everything"]


def device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` (or the environment variable ``TLBOOK_DEVICE``) forces a device,
    for example ``"cpu"`` to reproduce the book's CPU numbers on a GPU machine.
    """
    choice = prefer or os.environ.get("TLBOOK_DEVICE")
    if choice:
        return torch.device(choice)
    if torch.cuda.is_available():  # under torchrun, each process its own GPU
        local_rank = os.environ.get("LOCAL_RANK")
        return torch.device("cuda", int(local_rank)) if local_rank else torch.device("cuda")
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


class SeededNoise:
    """Gaussian noise from its own generator, created on the device of the first tensor it meets;
    ``state_dict``/``load_state_dict`` let ``fit`` checkpoint it with a method, so that a resumed
    run draws the same noise as an uninterrupted one."""

    def __init__(self, seed: int):
        self.seed, self.generator = seed, None

    def like(self, x: torch.Tensor) -> torch.Tensor:
        """Standard normal noise of ``x``'s shape, dtype and device."""
        if self.generator is None:
            self.generator = torch.Generator(x.device).manual_seed(self.seed)
        return torch.randn(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)

    def state_dict(self) -> dict:
        if self.generator is None:
            return {"seed": self.seed}
        return {"seed": self.seed, "device": str(self.generator.device), "state": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.seed, self.generator = state["seed"], None
        if "state" in state:
            self.generator = torch.Generator(state["device"])
            self.generator.set_state(state["state"])
