r"""Discrepancy-based adaptation: cross-entropy on the source plus a measured distance
between source and target activations of chosen layers.

.. math::

    \mathcal{L} = \frac{1}{n}\sum_i \ell_{CE}(f(x^s_i), y^s_i)
    \;+\; \lambda(p) \sum_{l \in \text{layers}} D\big(h_l(X^s), h_l(X^t)\big)

DDC, DAN, Deep CORAL and CMD differ only in :math:`D` and in the layers they adapt.
Source and target go through the network in **one concatenated batch**, so a network
with batch norm normalises both domains together (say so when comparing with a
source-only model that normalises the source alone).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .. import _checks, losses
from ..nn import Classifier
from .base import Batch, Method, _classifier, _weights

__all__ = ["Discrepancy", "DDC", "DAN", "DeepCORAL", "CMD"]


class Discrepancy(Method):
    """Source cross-entropy + ``weight · schedule(p) · Σ_layers discrepancy(h_s, h_t)``.

    ``layers`` are names from ``classifier.layer_names``; ``schedule`` maps training
    progress to a factor in [0, 1] (e.g. ``tlbook.schedules.dann_lambda``; constant 1 if None).
    """

    default_layers: tuple[str, ...] = ("bottleneck",)

    def __init__(
        self,
        classifier: Classifier,
        discrepancy: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        *,
        weight: float,
        layers: Sequence[str] | None = None,
        schedule: Callable[[float], float] | None = None,
    ):
        where = type(self).__name__
        super().__init__(_classifier(classifier, where))
        if isinstance(layers, str) or not isinstance(layers, (list, tuple, type(None))):
            raise TypeError(f"{where}: layers must be a list of layer names, got {_checks._got(layers)}")
        if layers is not None and not layers:
            raise ValueError(f"{where}: layers must name at least one layer (None: the default {self.default_layers})")
        self.layers = tuple(layers or self.default_layers)
        unknown = [name for name in self.layers if name not in classifier.layer_names]
        if unknown:
            raise ValueError(f"{where}: no layer named {unknown} in the classifier (layers must be among "
                             f"{classifier.layer_names})")
        if not callable(discrepancy):
            raise TypeError(f"{where}: discrepancy must be a function f(h_s, h_t) -> loss, got {_checks._got(discrepancy)}")
        _weights(where, weight=weight)
        if schedule is not None:
            _checks.schedule(schedule, "schedule", where)
        self.discrepancy, self.weight, self.schedule = discrepancy, weight, schedule

    def loss(self, source: Batch, target: Batch, progress: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        (xs, ys), (xt, _) = source, target
        if xt is None:
            raise ValueError(f"{type(self).__name__} needs target batches: pass a target domain to fit")
        acts = self.classifier.activations(torch.cat([xs, xt]))
        n = len(xs)
        classification = F.cross_entropy(acts["logits"][:n], ys)
        distance = sum(self.discrepancy(acts[name][:n].flatten(1), acts[name][n:].flatten(1)) for name in self.layers)
        factor = self.weight * (self.schedule(progress) if self.schedule is not None else 1.0)
        total = classification + factor * distance
        return total, {"classification": classification.detach(), "discrepancy": distance.detach()}


class DDC(Discrepancy):
    r"""Deep Domain Confusion (Tzeng et al. 2014): linear-kernel MMD, :math:`\|\bar h_s - \bar h_t\|^2`,
    on one layer. The paper puts its adaptation layer right before the class scores (between fc7
    and fc8), so the default ``layer`` is the classifier's last hidden layer. λ = 0.25 as in common
    reimplementations."""

    def __init__(self, classifier: Classifier, weight: float = 0.25, layer: str | None = None, **options):
        layer = layer or _classifier(classifier, "DDC").layer_names[-2]
        super().__init__(classifier, lambda a, b: losses.mmd(a, b, "linear"), weight=weight, layers=[layer], **options)


class DAN(Discrepancy):
    r"""Deep Adaptation Network (Long et al. 2015): MK-MMD summed over **several** layers
    (the paper adapts fc6, fc7 and fc8, the last three; here ``fc1``, ``fc2`` and ``logits``
    by default) with the Gaussian family 2⁻⁸γ … 2⁸γ. λ = 1."""

    default_layers = ("fc1", "fc2", "logits")

    def __init__(self, classifier: Classifier, weight: float = 1.0, layers: Sequence[str] | None = None,
                 multipliers: Sequence[float] | None = None, **options):
        if multipliers is not None:  # checked here, not at the first step; a list, so a generator is not used up
            if isinstance(multipliers, str) or not hasattr(multipliers, "__iter__"):
                raise TypeError(f"DAN: multipliers must be a list of positive numbers, got {_checks._got(multipliers)}")
            multipliers = list(multipliers)
            if not multipliers:
                raise ValueError("DAN: multipliers must be a non-empty list of positive numbers, got []")
            for mu in multipliers:
                _checks.number(mu, "multipliers", "DAN", low=0.0, low_open=True)
        kernel = lambda a, b: losses.mk_mmd(a, b, multipliers=multipliers)  # noqa: E731
        super().__init__(classifier, kernel, weight=weight, layers=layers, **options)


class DeepCORAL(Discrepancy):
    r"""Deep CORAL (Sun & Saenko 2016): :math:`\|C_S - C_T\|_F^2 / 4d^2` on the last layer
    (the class scores, fc8 in the paper). λ should make the CORAL term about as large as the
    classification loss at the end of training; choose it on source data and the
    unsupervised loss values, never on target accuracy."""

    default_layers = ("logits",)

    def __init__(self, classifier: Classifier, weight: float = 1.0, layers: Sequence[str] | None = None, **options):
        super().__init__(classifier, losses.coral, weight=weight, layers=layers, **options)


class CMD(Discrepancy):
    r"""Central Moment Discrepancy (Zellinger et al. 2017) of order ``k`` = 5 on a bounded
    layer (a sigmoid bottleneck, bounds [0, 1]); λ = 1 as in the paper."""

    def __init__(self, classifier: Classifier, weight: float = 1.0, layer: str = "bottleneck", k: int = 5,
                 bounds: tuple[float, float] = (0.0, 1.0), **options):
        _checks.integer(k, "k", "CMD")
        if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
            raise TypeError(f"CMD: bounds must be a pair (a, b) with a < b, got {bounds!r}")
        low, high = (_checks.number(v, "bounds", "CMD") for v in bounds)
        if not low < high:
            raise ValueError(f"CMD: bounds must be an interval (a, b) with a < b, got {tuple(bounds)}")
        super().__init__(classifier, lambda a, b: losses.cmd(a, b, k=k, bounds=bounds), weight=weight, layers=[layer], **options)
