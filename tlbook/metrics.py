"""Evaluation helpers: accuracy and feature extraction in eval mode, in chunks."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import torch
from torch import nn

__all__ = ["accuracy", "predict", "extract", "eval_mode"]


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode without gradients, then restore its previous mode."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def extract(fn: Callable[[torch.Tensor], torch.Tensor], model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """``fn(chunk)`` over ``x`` in chunks, with ``model`` in eval mode; results concatenated."""
    if len(x) == 0:
        raise ValueError("cannot evaluate on an empty set of examples")
    with eval_mode(model):
        return torch.cat([fn(chunk) for chunk in x.split(batch_size)])


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Predicted class of every input (argmax of the model's logits)."""
    return extract(lambda chunk: model(chunk).argmax(1), model, x, batch_size)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Fraction of ``x`` that ``model`` classifies as ``y`` (a float in [0, 1])."""
    if len(x) != len(y):
        raise ValueError(f"{len(x)} inputs but {len(y)} labels")
    return (predict(model, x, batch_size) == y).float().mean().item()
