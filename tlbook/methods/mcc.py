r"""Minimum Class Confusion as a method (Jin, Wang, Long & Wang, ECCV 2020): source cross-entropy plus
the class confusion of the unlabelled target predictions (``tlbook.losses.minimum_class_confusion``),

.. math:: \mathcal{L} = \frac1n \sum_i \ell_{CE}(f(x^s_i), y^s_i) + \mu\, \mathcal{L}_{MCC}\big(f(X^t)\big).

Self-training without pseudo-labels: like training on the network's own confident target predictions, it
sharpens them, but it has no confidence threshold to tune (a threshold is one more hyper-parameter that
no target label may choose), and the row normalisation keeps it from putting every target example in one class.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _checks
from ..losses import minimum_class_confusion
from ..nn import Classifier
from .base import Batch, Method, _weights

__all__ = ["MCC"]


class MCC(Method):
    """``weight`` μ = 1 and ``temperature`` T = 2.5: the paper's (and TLlib's) defaults. Source and target go
    through the network in one batch. Logged terms: ``classification`` and ``class confusion``."""

    def __init__(self, classifier: Classifier, *, weight: float = 1.0, temperature: float = 2.5):
        super().__init__(classifier)
        _weights("MCC", weight=weight)
        _checks.number(temperature, "temperature", "MCC", low=0.0, low_open=True)
        self.weight, self.temperature = weight, temperature

    def loss(self, source: Batch, target: Batch, progress: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        (xs, ys), (xt, _) = source, target
        if xt is None:
            raise ValueError("MCC needs target batches: pass a target domain to fit")
        logits = self.classifier(torch.cat([xs, xt]))
        n = len(xs)
        classification = F.cross_entropy(logits[:n], ys)
        confusion = minimum_class_confusion(logits[n:], self.temperature)
        return classification + self.weight * confusion, {"classification": classification.detach(),
                                                          "class confusion": confusion.detach()}
