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

from dataclasses import replace

import torch
from torch import nn

from .data import Domain
from . import _checks
from .metrics import _logits, predict

__all__ = ["bbse_weights", "confusion_joint", "estimate_label_shift", "label_shift_pair", "prediction_rates",
           "reweighted_predictions"]


def label_shift_pair(domain: Domain, proportions, seed: int = 0) -> tuple[Domain, Domain]:
    r"""A pair under pure label shift made from one domain: its examples are split at random in two halves
    (train and test alike); the source keeps the first half as it is, the target is the second half
    subsampled to the class ``proportions`` (``Domain.with_proportions``). The two share no example and
    the look of each class, :math:`p(x \mid y)`; only :math:`p(y)` differs. The source's test split is
    labelled source data the model does not train on: BBSE's held-out set."""
    halves = {}
    g = torch.Generator().manual_seed(_checks.integer(seed, "seed", "label_shift_pair", minimum=None))
    for split in ("train", "test"):
        x, y = getattr(domain, f"x_{split}"), getattr(domain, f"y_{split}")
        if len(y) < 4:
            raise ValueError(f"domain {domain.name!r}: its {split} split has {len(y)} examples, too few to halve")
        order = torch.randperm(len(y), generator=g).to(y.device)
        first, second = order[: len(y) // 2].sort().values, order[len(y) // 2 :].sort().values
        halves[split] = (x[first], y[first], x[second], y[second])
    source = replace(domain, name=f"{domain.name} (first half)",
                     **{f"{k}_{s}": v for s in ("train", "test") for k, v in zip("xy", halves[s][:2])})
    rest = replace(domain, name=f"{domain.name} (second half)",
                   **{f"{k}_{s}": v for s in ("train", "test") for k, v in zip("xy", halves[s][2:])})
    return source, rest.with_proportions(proportions, seed=seed)


def confusion_joint(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``C[i, j]``: the share of examples predicted ``i`` whose class is ``j`` (a joint distribution: all
    entries sum to 1), in float64."""
    num_classes = _checks.integer(num_classes, "num_classes", "confusion_joint", minimum=2)
    _checks.labels(predictions, "predictions", "confusion_joint", num_classes=num_classes, min_rows=1)
    _checks.labels(labels, "labels", "confusion_joint", num_classes=num_classes, min_rows=1)
    if predictions.shape != labels.shape:
        raise ValueError(f"{len(predictions)} predictions but {len(labels)} labels; one of each per example")
    counts = torch.bincount(predictions.cpu() * num_classes + labels.cpu(), minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes).double() / len(labels)


def prediction_rates(predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``μ[i]``: the share of examples predicted ``i``, in float64."""
    num_classes = _checks.integer(num_classes, "num_classes", "prediction_rates", minimum=2)
    _checks.labels(predictions, "predictions", "prediction_rates", num_classes=num_classes, min_rows=1)
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
    if not isinstance(source_validation, (tuple, list)) or len(source_validation) != 2:
        raise TypeError(f"estimate_label_shift: source_validation must be a pair (inputs, labels), got {type(source_validation).__name__}")
    x, y = source_validation
    _checks.tensor(x, "source_validation's inputs", "estimate_label_shift", floating=None, min_rows=1)
    _checks.labels(y, "source_validation's labels", "estimate_label_shift", n=len(x))
    _checks.integer(num_classes, "num_classes", "estimate_label_shift", minimum=2)
    target = _logits(model, target_x, name="target_x", where="estimate_label_shift").argmax(1)
    confusion = confusion_joint(predict(model, x).cpu(), y.cpu(), num_classes)
    return bbse_weights(confusion, prediction_rates(target.cpu(), num_classes))


def reweighted_predictions(model: nn.Module, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    r"""The target's predictions of a source-trained ``model`` corrected for a label shift without
    retraining: by Bayes' rule :math:`p_t(y \mid x) \propto w_y\, p_s(y \mid x)` when only :math:`p(y)`
    changes (Saerens, Latinne & Decaestecker, 2002), so the class is :math:`\arg\max_y w_y\, p_s(y \mid x)`."""
    if not isinstance(weights, torch.Tensor) or weights.ndim != 1:
        raise ValueError(f"weights must be a (C,) tensor of class weights, got {getattr(weights, 'shape', type(weights).__name__)}")
    if not torch.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"weights must be finite, non-negative and not all zero, got {weights.tolist()}")
    logits = _logits(model, x, where="reweighted_predictions")
    if logits.shape[1] != len(weights):
        raise ValueError(f"the model predicts {logits.shape[1]} classes but {len(weights)} weights were given")
    return (torch.softmax(logits.double(), 1) * weights.to(logits.device, torch.float64)).argmax(1)
