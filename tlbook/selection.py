r"""Choosing without target labels: scores of a trained model that use labelled *source* data and
unlabelled *target* data only, to pick a hyper-parameter, a training step or a method (higher is better
for every score here).

- **Source accuracy** (``tlbook.metrics.accuracy`` on held-out source data): ignores the shift.
- **Prediction entropy** (``entropy_score``): confident target predictions; a collapsed model is confident too.
- **Importance-weighted validation** (IWV; Sugiyama, Krauledat & Müller, JMLR 2007): the source validation
  loss, each example weighted by the density ratio :math:`w(x) = p_t(x) / p_s(x)`, an unbiased estimate of
  the target risk when only :math:`p(x)` shifts (``importance_weighted_score``).
- **Deep embedded validation** (DEV; You, Wang, Long & Jordan, ICML 2019): IWV with a control variate that
  lowers its variance, the ratio estimated by a domain classifier on the model's features
  (``deep_embedded_score``, ``density_ratios``).
- **Soft neighbourhood density** (SND; Saito, Kim, Teterwak, Sclaroff, Darrell & Saenko, ICCV 2021): how
  densely the target's predictions cluster (``soft_neighborhood_density``).

Checked once against skada 0.6's scorers on the same probabilities: ``soft_neighborhood_density`` equals its
``SoftNeighborhoodDensity`` (temperatures 0.05 and 0.5); ``entropy_score`` equals ``PredictionEntropyScorer``
times the number of classes (skada averages over the classes too: the same ranking); ``deep_embedded_score``
uses ``DeepEmbeddedValidation``'s control variate. skada is not a dependency of tlbook.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .metrics import _evaluate, _logits

__all__ = ["SCORES", "deep_embedded_score", "density_ratios", "entropy_score", "importance_weighted_score",
           "label_free_scores", "soft_neighborhood_density"]

#: The scores ``label_free_scores`` computes, in its order (higher is better for each).
SCORES = ("source accuracy", "entropy", "SND", "IWV", "DEV")


def _probabilities(probabilities: torch.Tensor, name: str) -> torch.Tensor:
    _checks.tensor(probabilities, "probabilities", name, ndim=2, min_rows=2, what="softmax outputs (N, C) of target examples")
    p = probabilities.detach().double().cpu()
    if (p < 0).any() or not torch.allclose(p.sum(1), torch.ones(len(p), dtype=p.dtype), atol=1e-4):
        raise ValueError(f"{name}: expected probabilities (non-negative rows that sum to 1): pass the softmax of the "
                         "logits, not the logits")
    return p


def entropy_score(probabilities: torch.Tensor) -> float:
    r"""Minus the mean entropy of the target predictions, :math:`-\frac1N \sum_n H(p_n)` (0 is certain)."""
    p = _probabilities(probabilities, "entropy_score")
    return float((p * torch.log(p.clamp_min(1e-300))).sum(1).mean())


def soft_neighborhood_density(probabilities: torch.Tensor, temperature: float = 0.05) -> float:
    r"""SND: the mean entropy of each target example's soft neighbourhood. With :math:`\hat p_n` the
    L2-normalised prediction, :math:`s_{nm} = \hat p_n^\top \hat p_m / \tau` (:math:`s_{nn} = -1/\tau`, as in the
    authors' code), and :math:`q_n = \mathrm{softmax}(s_n)`, SND :math:`= \frac1N \sum_n H(q_n)`: high when
    every prediction has many close neighbours (tight clusters), low when predictions scatter."""
    _checks.number(temperature, "temperature", "soft_neighborhood_density", low=0.0, low_open=True)
    p = F.normalize(_probabilities(probabilities, "soft_neighborhood_density"), dim=1)
    similarity = p @ p.T / temperature
    similarity.fill_diagonal_(-1.0 / temperature)
    q = F.softmax(similarity, dim=1)
    return float(-(q * F.log_softmax(similarity, dim=1)).sum(1).mean())


def density_ratios(source_features: torch.Tensor, target_features: torch.Tensor, at: torch.Tensor, seed: int = 0) -> np.ndarray:
    r""":math:`w(x) = p_t(x) / p_s(x)` at the rows ``at``, from a logistic-regression domain classifier trained
    to tell ``source_features`` (0) from ``target_features`` (1):
    :math:`w = \frac{n_s}{n_t} \frac{P(t \mid x)}{P(s \mid x)}` (DEV's estimate). Give held-out source rows as
    ``at``, not the rows the classifier trained on."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    for name, t, rows in (("source_features", source_features, 2), ("target_features", target_features, 2), ("at", at, 1)):
        _checks.tensor(t, name, "density_ratios", ndim=range(2, 6), floating=None, min_rows=rows, what="features (N, ...)")
    seed = _checks.integer(seed, "seed", "density_ratios", minimum=0)
    rows = [np.asarray(t.detach().flatten(1).double().cpu()) for t in (source_features, target_features, at)]
    if len({r.shape[1] for r in rows}) != 1:
        raise ValueError(f"density_ratios: source_features, target_features and at must have one width, got {[r.shape[1] for r in rows]}")
    scaler = StandardScaler().fit(np.concatenate(rows[:2]))
    domain = np.r_[np.zeros(len(rows[0])), np.ones(len(rows[1]))]
    classifier = LogisticRegression(max_iter=1000, random_state=seed).fit(scaler.transform(np.concatenate(rows[:2])), domain)
    target_probability = classifier.predict_proba(scaler.transform(rows[2]))[:, 1].clip(1e-6, 1 - 1e-6)
    return len(rows[0]) / len(rows[1]) * target_probability / (1 - target_probability)


def _losses_and_weights(losses, weights, name: str) -> tuple[np.ndarray, np.ndarray]:
    losses, weights = np.asarray(losses, dtype=float), np.asarray(weights, dtype=float)
    if losses.ndim != 1 or losses.shape != weights.shape or len(losses) < 2:
        raise ValueError(f"{name}: losses and weights must be two 1-D arrays of one length, at least 2; "
                         f"got shapes {losses.shape} and {weights.shape}")
    if not (np.isfinite(losses).all() and np.isfinite(weights).all()) or (weights < 0).any():
        raise ValueError(f"{name}: losses must be finite and weights finite and non-negative")
    return losses, weights


def importance_weighted_score(losses, weights) -> float:
    r"""IWV: minus the weighted mean of the source validation ``losses``, :math:`-\frac1n\sum_i w_i \ell_i`."""
    losses, weights = _losses_and_weights(losses, weights, "importance_weighted_score")
    return float(-(weights * losses).mean())


def deep_embedded_score(losses, weights) -> float:
    r"""DEV: minus IWV's risk with a control variate, :math:`\hat R = \overline{w\ell} + \eta\,\overline{w} - \eta`,
    :math:`\eta = -\mathrm{Cov}(w\ell, w) / \mathrm{Var}(w)` (the weights' mean is 1 in expectation, so the
    correction removes the part of the estimate's noise that comes from the weights)."""
    losses, weights = _losses_and_weights(losses, weights, "deep_embedded_score")
    weighted = weights * losses
    variance = weights.var(ddof=1)
    eta = -np.cov(weighted, weights)[0, 1] / variance if variance > 0 else 0.0
    return float(-(weighted.mean() + eta * weights.mean() - eta))


def _features(model: nn.Module, x: torch.Tensor, name: str = "x", where: str = "extract") -> torch.Tensor:
    """The input of the model's head when it has one (``Classifier.features``), else its logits."""
    network = getattr(model, "classifier", model)
    return _evaluate(network.features if hasattr(network, "features") else network, model, x, 256, name, where)


def label_free_scores(model: nn.Module, source_validation: tuple[torch.Tensor, torch.Tensor], source_x: torch.Tensor,
                      target_x: torch.Tensor, seed: int = 0, max_rows: int = 1000) -> dict[str, float]:
    """Every score of this module for one trained ``model``, from labelled source data it did not train on
    (``source_validation``), its training inputs ``source_x`` and unlabelled target inputs ``target_x``; no
    target label. IWV's and DEV's density ratios come from the model's own features, the domain classifier
    trained on at most ``max_rows`` rows of each domain (drawn with ``seed``)."""
    where, inputs, labels = "label_free_scores", "source_validation[0] (inputs)", "source_validation[1] (labels)"
    _checks.module(model, "model", where)
    if not isinstance(source_validation, (tuple, list)) or len(source_validation) != 2:
        raise TypeError(f"{where}: source_validation must be a pair (inputs, labels), got {_checks._got(source_validation)}")
    x_val, y_val = source_validation
    _checks.tensor(x_val, inputs, where, floating=None, what="a batch of inputs (N, ...)")
    _checks.labels(y_val, labels, where, any_integer=True)
    if len(x_val) != len(y_val) or len(x_val) < 2:
        raise ValueError(f"{where}: source_validation needs at least two inputs and one label each, got {len(x_val)} and {len(y_val)}")
    for name, t in (("source_x", source_x), ("target_x", target_x)):
        _checks.tensor(t, name, where, floating=None, min_rows=2, what="a batch of inputs (N, ...)")
    seed = _checks.integer(seed, "seed", where, minimum=0)
    max_rows = _checks.integer(max_rows, "max_rows", where, minimum=2)
    g = torch.Generator().manual_seed(seed)
    rows = lambda x: x[torch.randperm(len(x), generator=g)[:max_rows].to(x.device)]  # noqa: E731
    logits = _logits(model, x_val, 256, inputs, where)
    _checks.labels(y_val, labels, where, num_classes=logits.shape[1], any_integer=True)
    losses = F.cross_entropy(logits.double(), y_val.long(), reduction="none").cpu().numpy()
    target_probabilities = torch.softmax(_logits(model, target_x, 256, "target_x", where).double(), 1)
    weights = density_ratios(_features(model, rows(source_x), "source_x", where), _features(model, rows(target_x), "target_x", where),
                             _features(model, x_val, inputs, where), seed)
    return {"source accuracy": float((logits.argmax(1) == y_val).double().mean()),
            "entropy": entropy_score(target_probabilities),
            "SND": soft_neighborhood_density(target_probabilities),
            "IWV": importance_weighted_score(losses, weights),
            "DEV": deep_embedded_score(losses, weights)}
