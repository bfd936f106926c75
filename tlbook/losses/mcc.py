r"""Minimum Class Confusion (Jin, Wang, Long & Wang, ECCV 2020): a loss on unlabelled target predictions alone.

With :math:`\hat Y = \mathrm{softmax}(Z / T)` the temperature-scaled predictions of a target batch, each
example weighted by its certainty, :math:`W_i \propto 1 + e^{-H(\hat y_i)}` (mean 1 over the batch), the
class correlation :math:`C = \hat Y^\top \mathrm{diag}(W)\, \hat Y` counts how often the network hesitates
between two classes on the same examples. Normalised by row, :math:`\tilde C_{jk} = C_{jk} / \sum_{k'} C_{jk'}`,
its off-diagonal mass is the loss:

.. math:: \mathcal{L}_{MCC} = \frac{1}{|\mathcal{C}|} \sum_{j} \sum_{k \ne j} \tilde C_{jk}

Minimising it makes the target predictions confident *and* spread over the classes (a row cannot be
normalised away by predicting one class everywhere), with no threshold and no pseudo-label to choose.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import at_least_float32
from .conditional import entropy_weights
from .. import _checks

__all__ = ["minimum_class_confusion"]


def minimum_class_confusion(logits: torch.Tensor, temperature: float = 2.5) -> torch.Tensor:
    r"""The MCC loss of a batch of target ``logits`` ``(N, C)`` (``C`` ≥ 2), in :math:`[0, (C-1)/C]`; the
    paper's temperature :math:`T = 2.5` by default."""
    _checks.tensor(logits, "logits", "minimum_class_confusion", ndim=2, min_rows=1, what="target logits (N, C)")
    n, classes = logits.shape
    if classes < 2:
        raise ValueError(f"minimum_class_confusion: logits must have at least two classes (columns), got shape {(n, classes)}")
    _checks.number(temperature, "temperature", "minimum_class_confusion", low=0.0, low_open=True)
    with torch.autocast(logits.device.type, enabled=False):  # C - trace is a small difference: full precision
        p = F.softmax(at_least_float32(logits) / temperature, dim=1)
        weights = entropy_weights(p)  # CDAN+E's certainty weights, 1 + e^{-H}, here rescaled to mean 1
        weights = n * weights / weights.sum()
        correlation = p.T @ (weights[:, None] * p)
        sums = correlation.sum(1)
        # a class whose probability underflowed to 0 on every example has no row to normalise: it counts as
        # fully confused (off-diagonal mass 1), never as a class without confusion
        offdiagonal = torch.where(sums > 0, (sums - correlation.diagonal()) / sums.clamp_min(torch.finfo(p.dtype).tiny), 1.0)
        return offdiagonal.sum() / classes
