r"""Label shift: the class proportions change between the domains, the look of each class does not,
:math:`p_t(x \mid y) = p_s(x \mid y)` but :math:`p_t(y) \ne p_s(y)`.

Black-box shift estimation (BBSE; Lipton, Wang & Smola, ICML 2018) recovers the target's class weights
:math:`w_y = p_t(y) / p_s(y)` from any fixed classifier :math:`f`, with no target label. Under label shift
the target's distribution of *predictions* is a mix of the source's per-class prediction rates:

.. math::

    \mu_i = p_t(f(x) = i) = \sum_j p_s(f(x) = i,\, y = j)\, w_j = (C w)_i,

so :math:`\hat w = \hat C^{-1} \hat\mu`, with :math:`\hat C` the joint confusion matrix on held-out labelled
source data and :math:`\hat\mu` the share of each predicted class on the unlabelled target. Weighting the
source loss by :math:`w_y` then trains for the target's class proportions (``SourceOnly(class_weights=w)``).
"""
from __future__ import annotations

import torch
from torch import nn

from .metrics import predict

__all__ = ["bbse_weights", "confusion_joint", "estimate_label_shift", "prediction_rates"]


def _check_classes(values: torch.Tensor, num_classes: int, name: str) -> None:
    if not isinstance(values, torch.Tensor) or values.dtype != torch.int64 or values.ndim != 1 or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty int64 tensor of class indices (N,), got "
                         f"{getattr(values, 'dtype', type(values).__name__)} of shape {tuple(getattr(values, 'shape', ()))}")
    if values.min() < 0 or values.max() >= num_classes:
        raise ValueError(f"{name} must lie in [0, {num_classes}), got values in [{int(values.min())}, {int(values.max())}]")


def _check_num_classes(num_classes: int) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer of at least 2, got {num_classes!r}")


def confusion_joint(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``C[i, j]``: the share of examples predicted ``i`` whose class is ``j`` (a joint distribution: all
    entries sum to 1), in float64."""
    _check_num_classes(num_classes)
    _check_classes(predictions, num_classes, "predictions")
    _check_classes(labels, num_classes, "labels")
    if predictions.shape != labels.shape:
        raise ValueError(f"{len(predictions)} predictions but {len(labels)} labels; one of each per example")
    counts = torch.bincount(predictions.cpu() * num_classes + labels.cpu(), minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes).double() / len(labels)


def prediction_rates(predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``μ[i]``: the share of examples predicted ``i``, in float64."""
    _check_num_classes(num_classes)
    _check_classes(predictions, num_classes, "predictions")
    return torch.bincount(predictions.cpu(), minlength=num_classes).double() / len(predictions)


def bbse_weights(confusion: torch.Tensor, target_rates: torch.Tensor) -> torch.Tensor:
    r"""Solve :math:`C w = \mu` for the class weights :math:`w_j = p_t(y=j) / p_s(y=j)`, negative
    solutions clipped to 0 (a class the target lacks; estimation noise). Float64.

    The system is solvable only when every class is predicted for some source example of its own class
    and ``C`` is well conditioned: an error names the classes that make it singular (use a better
    classifier, more source validation data, or merge those classes).
    """
    if not isinstance(confusion, torch.Tensor) or confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"confusion must be a square (C, C) tensor, got shape {tuple(getattr(confusion, 'shape', ()))}")
    classes = confusion.shape[0]
    if not isinstance(target_rates, torch.Tensor) or target_rates.shape != (classes,):
        raise ValueError(f"target_rates must have shape ({classes},), one rate per predicted class, "
                         f"got {tuple(getattr(target_rates, 'shape', ()))}")
    c, mu = confusion.double().cpu(), target_rates.double().cpu()
    if not (torch.isfinite(c).all() and torch.isfinite(mu).all()) or (c < 0).any() or (mu < 0).any():
        raise ValueError("confusion and target_rates must hold finite, non-negative shares")
    for name, total in (("confusion", c.sum()), ("target_rates", mu.sum())):
        if abs(total.item() - 1.0) > 1e-6:
            raise ValueError(f"{name} must hold shares that sum to 1 (a joint distribution), not counts: "
                             f"they sum to {total.item():.6g}")
    never = torch.nonzero(c.diagonal() == 0).flatten().tolist()
    condition = torch.linalg.cond(c).item()
    if never or not condition < 1e8:
        raise ValueError(f"the confusion matrix cannot be inverted (condition number {condition:.3g}); "
                         f"classes never predicted correctly on the source: {never or 'none'}")
    return torch.linalg.solve(c, mu).clamp_min(0.0)


def estimate_label_shift(model: nn.Module, source_validation: tuple[torch.Tensor, torch.Tensor], target_x: torch.Tensor,
                         num_classes: int) -> torch.Tensor:
    """BBSE with ``model``'s predictions: the class weights ``w`` (float64, ``(num_classes,)``) from labelled
    source data the model did not train on and unlabelled target inputs. The target's estimated class
    proportions are ``w * p_s(y)``."""
    x, y = source_validation
    if len(x) != len(y):
        raise ValueError(f"source_validation holds {len(x)} inputs but {len(y)} labels")
    if len(target_x) == 0:
        raise ValueError("target_x is empty: the target's prediction rates need at least one input")
    confusion = confusion_joint(predict(model, x).cpu(), y.cpu(), num_classes)
    return bbse_weights(confusion, prediction_rates(predict(model, target_x).cpu(), num_classes))
