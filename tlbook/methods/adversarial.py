r"""Adversarial adaptation with a gradient reversal: DANN (Ganin et al., JMLR 2016) and its conditional
version, CDAN (Long et al., NeurIPS 2018).

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

from .. import _checks
from ..losses import entropy_weights
from ..losses._checks import at_least_float32
from ..nn import (Classifier, DomainAdversarialLoss, DomainDiscriminator, MultilinearMap, batch_norm_layers,
                  running_stats_frozen)
from ..schedules import dann_lambda
from .base import Batch, Method, _classifier, _flag, _weights, _widths

__all__ = ["CDAN", "DANN"]


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
        where = type(self).__name__
        super().__init__(_classifier(classifier, where))
        _checks.choice(layer, "layer", where, classifier.layer_names)
        _weights(where, weight=weight)
        _checks.schedule(schedule, "schedule", where)
        _widths(hidden, "hidden", where)
        if discriminator is not None:
            _checks.module(discriminator, "discriminator", where)
        if _flag(domain_batch_norm, "domain_batch_norm", where) and not batch_norm_layers(classifier):
            raise ValueError(f"{where}: domain_batch_norm=True needs a network with batch-norm layers (batch_norm=True)")
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
            raise ValueError(f"{type(self).__name__} needs target batches: pass a target domain to fit")
        acts = self._activations(xs, xt)
        n = len(xs)
        classification = F.cross_entropy(acts["logits"][:n], ys)
        coefficient = self.weight * self.schedule(progress)
        seen, weights = self.domain_input(acts)
        domain, accuracy = self.adversary(seen[:n], seen[n:], coefficient, None if weights is None else (weights[:n], weights[n:]))
        terms = {"classification": classification.detach(), "domain": domain.detach(),
                 "domain accuracy": accuracy, "lambda": torch.tensor(coefficient)}
        return classification + domain, terms

    def domain_input(self, activations: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the domain classifier sees of each example (source rows, then target rows), and the
        examples' weights in its loss (``None``: equal). DANN: the features of ``layer``."""
        return activations[self.layer], None


class CDAN(DANN):
    r"""Conditional domain adversarial network (Long, Cao, Wang & Jordan, NeurIPS 2018): DANN whose domain
    classifier sees the features *and* the class prediction, through the multilinear map
    :math:`T(f, g) = g \otimes f` (``tlbook.losses.multilinear_map``):

    .. math::

        \min_{\theta_f, \theta_y} \max_{\theta_d}\;
        \mathcal{L}_y - \lambda\, \mathbb{E}\big[w\, \ell_d\big(D(T(f, g))\big)\big]

    - ``layer``: the features :math:`f` (the bottleneck, as in the paper, where the map stays small:
      64 features × 10 classes); :math:`g` is the softmax of the class scores, detached.
    - ``entropy=True`` is CDAN+E: each example's domain loss is weighted by :math:`w = 1 + e^{-H(g)}`
      (``entropy_weights``), so uncertain predictions, likely wrong, condition the alignment less.
    - When features × classes exceeds ``randomize_above`` (4,096 by default), the map is the randomised
      one with ``randomized_dim`` outputs (1,024), its projections drawn once (``MultilinearMap``).
    - Everything else (the reversal and its λ ramp, the domain classifier fc100 → fc1,
      ``domain_batch_norm``) is DANN's. Logged terms: DANN's.
    """

    def __init__(self, classifier: Classifier, *, layer: str = "bottleneck", entropy: bool = False,
                 randomize_above: int = 4096, randomized_dim: int = 1024, weight: float = 1.0,
                 schedule: Callable[[float], float] = dann_lambda, hidden: tuple[int, ...] = (100,),
                 domain_batch_norm: bool = False):
        _checks.choice(layer, "layer", "CDAN", _classifier(classifier, "CDAN").layer_names)
        _flag(entropy, "entropy", "CDAN")
        _checks.integer(randomize_above, "randomize_above", "CDAN", minimum=0)
        _checks.integer(randomized_dim, "randomized_dim", "CDAN")
        _widths(hidden, "hidden", "CDAN")
        width, classes = classifier.width(layer), classifier.num_classes
        conditioning = MultilinearMap(width, classes, randomized_dim if width * classes > randomize_above else None)
        super().__init__(classifier, layer=layer, weight=weight, schedule=schedule, hidden=hidden,
                         discriminator=DomainDiscriminator(conditioning.out_features, hidden),
                         domain_batch_norm=domain_batch_norm)
        self.conditioning, self.entropy = conditioning, entropy

    def domain_input(self, activations: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The map of the features and the (detached) class probabilities; with ``entropy``, their weights."""
        probabilities = F.softmax(at_least_float32(activations["logits"].detach()), dim=1)
        features = activations[self.layer].flatten(1)
        seen = self.conditioning(features, probabilities.to(features.dtype))
        return seen, entropy_weights(probabilities) if self.entropy else None
