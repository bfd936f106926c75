"""One small loop that trains any zero-shot model on the seen classes of a ZeroShotData."""
from __future__ import annotations

import torch
from torch import nn
from tqdm import tqdm

from .._utils import seed_everything
from ..data.sampler import BatchSampler
from .data import ZeroShotData

__all__ = ["train_zero_shot"]


def train_zero_shot(model: nn.Module, data: ZeroShotData, steps: int = 400, batch_size: int = 64, lr: float = 1e-3,
                    weight_decay: float = 1e-4, seed: int = 0, progress_bar: bool = True) -> list[float]:
    """Adam on ``model.loss(x, labels, attributes[seen])`` over batches of seen-class images; returns the losses.

    ``model`` needs ``loss(x, labels, attributes)`` with labels indexing the training classes
    (:class:`AttributeEmbedding` and :class:`DAP` have it). Only ``data.seen`` classes and
    their attributes reach the model: nothing of the unseen classes is used.
    """
    if steps < 1 or batch_size < 2:
        raise ValueError(f"need steps >= 1 and batch_size >= 2, got {steps} and {batch_size}")
    seed_everything(seed)
    device = data.x_train.device
    model.to(device).train()
    seen_attributes = data.attributes[data.seen]
    labels = torch.searchsorted(data.seen, data.y_train)  # global class id → row of seen_attributes
    sampler = BatchSampler(data.x_train, labels, batch_size, seed=seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    for _ in tqdm(range(steps), desc=type(model).__name__, disable=not progress_bar, mininterval=1.0):
        x, y = next(sampler)
        loss = model.loss(x, y, seen_attributes)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        losses.append(loss.detach())
    return torch.stack(losses).tolist()
