r"""Adversarial adaptation with a gradient reversal: DANN (Ganin et al., JMLR 2016).

.. math::

    \min_{\theta_f, \theta_y} \max_{\theta_d}\;
    \mathcal{L}_y(\theta_f, \theta_y) - \lambda\, \mathcal{L}_d(\theta_f, \theta_d)

The label predictor minimises the source cross-entropy :math:`\mathcal{L}_y`; the domain
classifier minimises its domain cross-entropy :math:`\mathcal{L}_d`; the feature extractor
minimises :math:`\mathcal{L}_y` while *maximising* :math:`\mathcal{L}_d`. The gradient
reversal layer turns that saddle point into one ordinary minimisation of
:math:`\mathcal{L}_y + \mathcal{L}_d`: the discriminator sees the plain gradient, the
features below the reversal see it multiplied by :math:`-\lambda`.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..nn import Classifier, DomainAdversarialLoss, DomainDiscriminator, batch_norm_layers, running_stats_frozen
from ..schedules import dann_lambda
from .base import Batch, Method

__all__ = ["DANN"]


class DANN(Method):
    """Domain-adversarial neural network (Ganin et al., JMLR 2016).

    - ``layer``: where the domain classifier attaches (the paper: the feature extractor's
      output, ``"backbone"``).
    - ``discriminator``: the paper's digit domain classifier, fc100 → fc1, by default.
    - ``weight · schedule(p)`` is the reversal coefficient λ_p; the paper's ramp
      2/(1 + e^{−10p}) − 1 by default, driven by the training progress ``p`` that ``fit``
      computes from its (checkpointed) step counter.
    - The paper trains with SGD and its schedule: ``fit(..., optimizer="sgd", lr=0.01, momentum=0.9,
      lr_schedule=schedules.dann_lr)``. The book uses Adam at 1e-3 for every method of a comparison
      (chapter 3 fixes the number of steps from the source alone: twice the steps source-only needs
      to settle).

    Source and target go through the network in one concatenated batch, so batch-norm layers (if
    any) see the mixture. ``domain_batch_norm=True`` passes them separately instead: each batch is
    normalised with its own domain's statistics, and the running averages follow the target only
    (the source pass leaves them alone), so at test time the network is normalised for the target,
    as in AdaBN. That alone can change target accuracy: compare with ``weight=0`` (the same passes,
    no adversary) to see the adversary's share. Logged terms: ``classification``, ``domain`` (the
    discriminator's loss; log 2 ≈ 0.693 at chance), ``domain accuracy`` and ``lambda``.
    """

    def __init__(self, classifier: Classifier, *, layer: str = "backbone", weight: float = 1.0,
                 schedule: Callable[[float], float] = dann_lambda, discriminator: nn.Module | None = None,
                 hidden: tuple[int, ...] = (100,), domain_batch_norm: bool = False):
        super().__init__(classifier)
        if weight < 0:
            raise ValueError(f"weight must be non-negative, got {weight}")
        if domain_batch_norm and not batch_norm_layers(classifier):
            raise ValueError("domain_batch_norm=True needs a network with batch-norm layers (batch_norm=True)")
        self.layer, self.weight, self.schedule = layer, weight, schedule
        self.domain_batch_norm = domain_batch_norm
        self.adversary = DomainAdversarialLoss(discriminator if discriminator is not None
                                               else DomainDiscriminator(classifier.width(layer), hidden))

    def _activations(self, xs: torch.Tensor, xt: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every named activation for the source rows, then the target rows."""
        if not self.domain_batch_norm:
            return self.classifier.activations(torch.cat([xs, xt]))
        with running_stats_frozen(self.classifier):
            source = self.classifier.activations(xs)
        target = self.classifier.activations(xt)
        return {name: torch.cat([source[name], target[name]]) for name in source}

    def loss(self, source: Batch, target: Batch, progress: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        (xs, ys), (xt, _) = source, target
        if xt is None:
            raise ValueError("DANN needs target batches: pass a target domain to fit")
        acts = self._activations(xs, xt)
        n = len(xs)
        classification = F.cross_entropy(acts["logits"][:n], ys)
        coefficient = self.weight * self.schedule(progress)
        domain, accuracy = self.adversary(acts[self.layer][:n], acts[self.layer][n:], coefficient)
        terms = {"classification": classification.detach(), "domain": domain.detach(),
                 "domain accuracy": accuracy, "lambda": torch.tensor(coefficient)}
        return classification + domain, terms
