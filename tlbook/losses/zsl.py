"""The zero-shot ranking hinge on class compatibility scores."""
from __future__ import annotations

import torch

from .. import _checks

__all__ = ["attribute_hinge"]

VIOLATORS = ("max", "sum")


def attribute_hinge(scores: torch.Tensor, labels: torch.Tensor, margin: float = 1.0, violators: str = "max") -> torch.Tensor:
    r"""Ranking hinge on compatibility scores ``s[n, m] = f(x_n)·g(y_m)``, averaged over the batch.

    ``violators="max"`` (only the most violating class, as in structured SVMs such as ALE):

    .. math:: \ell_n = \max\bigl(0,\; k - s_{n,y_n} + \max_{m \ne y_n} s_{n,m}\bigr)

    ``violators="sum"`` (Frome et al., NIPS 2013, DeViSE):

    .. math:: \ell_n = \sum_{m \ne y_n} \max\bigl(0,\; k - s_{n,y_n} + s_{n,m}\bigr)

    ``scores``: (B, C) float, one column per candidate class; ``labels``: (B,) int64 column
    indices of the true classes; ``margin`` k ≥ 0. Zero when every true class beats every
    other class by at least k. Vectorised over classes: no Python loop per sample.
    """
    _checks.tensor(scores, "scores", "attribute_hinge", ndim=2, min_rows=1, what="compatibility scores (batch, classes)")
    if scores.shape[1] < 2:
        raise ValueError(f"attribute_hinge: scores must have at least 2 classes (columns), got shape {tuple(scores.shape)}")
    _checks.labels(labels, "labels", "attribute_hinge", num_classes=scores.shape[1], n=len(scores))
    _checks.number(margin, "margin", "attribute_hinge", low=0.0)
    _checks.choice(violators, "violators", "attribute_hinge", VIOLATORS)
    true = scores.gather(1, labels[:, None])
    is_true = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, labels[:, None], True)
    if violators == "max":
        rival = scores.masked_fill(is_true, float("-inf")).amax(1, keepdim=True)
        return (margin - true + rival).clamp_min(0).mean()
    hinge = (margin - true + scores).clamp_min(0).masked_fill(is_true, 0.0)
    return hinge.sum(1).mean()
