"""Endless shuffled mini-batches drawn from tensors that already sit on the device."""
from __future__ import annotations

from typing import Iterator

import torch

from .. import _checks

__all__ = ["BatchSampler"]


class BatchSampler:
    """Yield ``(x, y)`` batches forever, reshuffling after each pass over the data.

    Indexing happens on the tensors' own device: no DataLoader, no workers, no
    host-device copies. The shuffling uses a private CPU generator whose state
    is part of ``state_dict()``, so a resumed training run draws the same batches.
    A pass ends early rather than yield a short batch; when the data hold fewer
    examples than ``batch_size``, each batch is the whole (shuffled) set.

    ``y`` may be ``None`` (unlabelled target data): batches are then ``(x, None)``.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, batch_size: int, seed: int = 0):
        _checks.tensor(x, "x", "BatchSampler", floating=None, what="inputs (N, ...)")
        if x.ndim == 0 or len(x) == 0:
            raise ValueError(f"BatchSampler: x must hold at least one example, got shape {tuple(x.shape)}: cannot "
                             "sample batches from an empty set of examples")
        if y is not None:
            _checks.tensor(y, "y", "BatchSampler", floating=None, what="labels (N, ...) or None")
            if y.ndim == 0 or len(y) != len(x):
                raise ValueError(f"BatchSampler: x and y must have one row per example each: {len(x)} inputs but "
                                 f"{len(y) if y.ndim else 'a 0-d tensor of'} labels")
            if y.device != x.device:
                raise ValueError(f"BatchSampler: x and y must be on one device, got {x.device} and {y.device}")
        batch_size = _checks.integer(batch_size, "batch_size", "BatchSampler")
        seed = _checks.integer(seed, "seed", "BatchSampler", minimum=None)
        self.x, self.y = x, y
        self.batch_size = min(batch_size, len(x))
        self.generator = torch.Generator().manual_seed(seed)
        self._order = self._shuffle()
        self._position = 0

    def _shuffle(self) -> torch.Tensor:
        """A new order, drawn on the CPU (the same on every device) and moved to the data's
        device once per pass; on CUDA the copy is asynchronous, so it never stalls the GPU."""
        order = torch.randperm(len(self.x), generator=self.generator)
        if self.x.device.type == "cuda":
            return order.pin_memory().to(self.x.device, non_blocking=True)
        return order.to(self.x.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self._position + self.batch_size > len(self._order):
            self._order = self._shuffle()
            self._position = 0
        index = self._order[self._position : self._position + self.batch_size]
        self._position += self.batch_size
        return self.x[index], (None if self.y is None else self.y[index])

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "order": self._order.clone(), "position": self._position}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self._order, self._position = state["order"].to(self.x.device).clone(), state["position"]
