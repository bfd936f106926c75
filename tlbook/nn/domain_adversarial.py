r"""The adversarial part of DANN and DSN as one module: gradient reversal, domain classifier,
domain loss and domain accuracy (the composable loss of TLlib's ``DomainAdversarialLoss``).

.. math::

    \mathcal{L}_d = \mathrm{CE}\big(G_d(R_\lambda(f_s)), 0\big) + \mathrm{CE}\big(G_d(R_\lambda(f_t)), 1\big)

averaged over the :math:`n_s + n_t` rows (Ganin et al., JMLR 2016). Added to a task loss and minimised,
it trains the domain classifier :math:`G_d` to tell the domains apart while the reversal
:math:`R_\lambda` hands the features below it :math:`-\lambda` times that gradient.
"""
from __future__ import annotations

import torch
from torch import nn

from .. import _checks
from ..losses import domain_accuracy, domain_classification
from .gradient_reversal import GradientReversal, _coefficient

__all__ = ["DomainAdversarialLoss"]


class DomainAdversarialLoss(nn.Module):
    """``loss, accuracy = adversary(source_features, target_features, coefficient)``.

    ``discriminator`` maps features to domain logits (e.g. ``DomainDiscriminator``); ``coefficient`` is
    the reversal's λ for this step (0: the domain classifier learns, the features feel nothing);
    ``weights`` (source, target), one per example, weight the domain loss (``domain_classification``). The
    accuracy is detached, for logging; 0.5 is chance.
    """

    def __init__(self, discriminator: nn.Module):
        super().__init__()
        _checks.module(discriminator, "discriminator", "DomainAdversarialLoss", what="a module from features to domain logits")
        self.discriminator = discriminator
        self.reversal = GradientReversal(0.0)

    def forward(self, source: torch.Tensor, target: torch.Tensor, coefficient: float = 1.0,
                weights: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        where = "DomainAdversarialLoss"
        coefficient = _coefficient(coefficient, where)
        for name, t in (("source", source), ("target", target)):
            _checks.tensor(t, name, where, ndim=range(2, 6), min_rows=1, what=f"{name} features (N, ...)")
        if source.shape[1:] != target.shape[1:]:
            raise ValueError(f"{where}: source and target must be features of one shape per example, "
                             f"got {tuple(source.shape[1:])} and {tuple(target.shape[1:])}")
        self.reversal.coefficient = coefficient
        logits = self.discriminator(self.reversal(torch.cat([source, target])))
        n = len(source)
        return domain_classification(logits[:n], logits[n:], weights), domain_accuracy(logits[:n], logits[n:])
