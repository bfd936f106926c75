"""A domain discriminator: an MLP from features to domain **logits** (never probabilities)."""
from __future__ import annotations

import torch
from torch import nn

from .. import _checks
from . import _args

__all__ = ["DomainDiscriminator"]


class DomainDiscriminator(nn.Module):
    """``in_features`` → (Linear → ReLU)·len(hidden) → Linear → ``domains`` logits.

    The DANN paper's digit discriminator is ``hidden=(100,)``; its Office one ``(1024, 1024)``.
    With ``domains=1`` (the default) it returns one logit per example, shape ``(N,)``, for
    ``binary_cross_entropy_with_logits`` (AMP-safe; a sigmoid inside would not be). With
    ``domains=2`` it returns ``(N, 2)`` logits, as the confusion loss of SDT needs.
    """

    def __init__(self, in_features: int, hidden: tuple[int, ...] = (100,), domains: int = 1):
        super().__init__()
        _checks.integer(in_features, "in_features", "DomainDiscriminator")
        _args.widths(hidden, "hidden", "DomainDiscriminator", empty=True)  # empty: a linear discriminator
        _checks.integer(domains, "domains", "DomainDiscriminator")
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
            width = h
        layers.append(nn.Linear(width, domains))
        self.net = nn.Sequential(*layers)
        self.in_features, self.domains = in_features, domains

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = features.flatten(1)
        if h.shape[1] != self.in_features:
            raise ValueError(f"DomainDiscriminator expects {self.in_features} features per example, got {h.shape[1]}")
        logits = self.net(h)
        return logits.squeeze(1) if self.domains == 1 else logits
