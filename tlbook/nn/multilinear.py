"""CDAN's conditioning map as a module: the full multilinear map, or its randomised version with the two
random projections drawn once and kept (as buffers: saved, moved and resumed with the model)."""
from __future__ import annotations

import torch
from torch import nn

from ..losses import multilinear_map, randomized_multilinear_map

__all__ = ["MultilinearMap"]


class MultilinearMap(nn.Module):
    """``map(features, probabilities)`` -> ``(N, out_features)``: ``features × classes`` products, or
    ``randomized_dim`` randomised ones when it is given (Gaussian projections drawn from torch's global
    generator, so ``seed_everything`` fixes them)."""

    def __init__(self, features: int, classes: int, randomized_dim: int | None = None):
        super().__init__()
        for name, value in (("features", features), ("classes", classes), ("randomized_dim", randomized_dim)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise ValueError(f"MultilinearMap: {name} must be a positive integer, got {value!r}")
        self.randomized = randomized_dim is not None
        self.out_features = randomized_dim if self.randomized else features * classes
        if self.randomized:
            self.register_buffer("feature_projection", torch.randn(features, randomized_dim))
            self.register_buffer("class_projection", torch.randn(classes, randomized_dim))

    def forward(self, features: torch.Tensor, probabilities: torch.Tensor) -> torch.Tensor:
        if self.randomized:
            return randomized_multilinear_map(features, probabilities, self.feature_projection, self.class_projection)
        return multilinear_map(features, probabilities)
