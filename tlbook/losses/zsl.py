"""The zero-shot ranking hinge on class compatibility scores."""
from __future__ import annotations

import torch

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
    if scores.ndim != 2 or scores.shape[1] < 2 or scores.shape[0] < 1:
        raise ValueError(f"scores must be (batch, classes) with at least one example and 2 classes, "
                         f"got shape {tuple(scores.shape)}")
    if not scores.is_floating_point():
        raise TypeError(f"scores must be a floating tensor, got {scores.dtype}")
    if labels.ndim != 1 or len(labels) != len(scores) or labels.dtype != torch.int64:
        raise ValueError(f"labels must be int64 of shape ({len(scores)},), got {labels.dtype} {tuple(labels.shape)}")
    if len(labels) and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise ValueError(f"labels must index the {scores.shape[1]} score columns, got values in [{labels.min()}, {labels.max()}]")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    if violators not in VIOLATORS:
        raise ValueError(f"violators must be one of {VIOLATORS}, got {violators!r}")
    true = scores.gather(1, labels[:, None])
    is_true = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, labels[:, None], True)
    if violators == "max":
        rival = scores.masked_fill(is_true, float("-inf")).amax(1, keepdim=True)
        return (margin - true + rival).clamp_min(0).mean()
    hinge = (margin - true + scores).clamp_min(0).masked_fill(is_true, 0.0)
    return hinge.sum(1).mean()
