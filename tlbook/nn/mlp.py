"""A small fully connected backbone, for the 2-D toy domains."""
from __future__ import annotations

import torch
from torch import nn

from .. import _checks
from . import _args

__all__ = ["MLP"]


class MLP(nn.Module):
    """Linear → ReLU blocks; ``out_features`` is the last hidden width."""

    def __init__(self, in_features: int = 2, hidden: tuple[int, ...] = (32, 32)):
        super().__init__()
        _checks.integer(in_features, "in_features", "MLP")
        _args.widths(hidden, "hidden", "MLP")  # at least one hidden layer
        self.in_features = in_features
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(in_features, width), nn.ReLU(inplace=True)]
            in_features = width
        self.layers = nn.Sequential(*layers)
        self.out_features = in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"MLP expects inputs of shape (N, {self.in_features}), got {tuple(x.shape)}")
        return self.layers(x)
