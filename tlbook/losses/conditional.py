r"""What conditional adversarial adaptation feeds its domain classifier: the features combined with the class
prediction, and weights that favour confident examples (CDAN and CDAN+E: Long, Cao, Wang & Jordan, NeurIPS 2018).

A domain classifier that sees only the features :math:`f` aligns their *marginal* distributions, and can
do so by pairing source sevens with target ones. Given :math:`f` together with the prediction :math:`g`,
it can tell the domains apart from the *joint* of features and classes, so fooling it aligns that joint.
"""
from __future__ import annotations

import math

import torch

from .._checks import tensor
from ._checks import at_least_float32

__all__ = ["entropy_weights", "multilinear_map", "randomized_multilinear_map"]


def _check_pair(features: torch.Tensor, probabilities: torch.Tensor, name: str) -> None:
    for arg, t in (("features", features), ("probabilities", probabilities)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.ndim != 2:
            raise ValueError(f"{name}: {arg} must be a floating (N, width) tensor, got "
                             f"{getattr(t, 'dtype', type(t).__name__)} of shape {tuple(getattr(t, 'shape', ()))}")
    if len(features) != len(probabilities):
        raise ValueError(f"{name}: {len(features)} rows of features but {len(probabilities)} of probabilities; one each per example")


def multilinear_map(features: torch.Tensor, probabilities: torch.Tensor) -> torch.Tensor:
    r"""The multilinear map :math:`T_\otimes(f, g) = g \otimes f`, row by row, flattened:

    .. math:: T_\otimes(f, g)_{c d + j} = g_c\, f_j, \qquad (N, d) \times (N, C) \to (N, C d)

    (CDAN, eq. 4). Every product of a feature with a class probability is one input of the domain
    classifier, so it can learn a separate boundary for each predicted class. ``probabilities``: the
    softmax outputs (CDAN detaches them: the map conditions on the prediction, it does not train it).
    """
    _check_pair(features, probabilities, "multilinear_map")
    return torch.einsum("nc,nd->ncd", probabilities, features).flatten(1)


def randomized_multilinear_map(features: torch.Tensor, probabilities: torch.Tensor, feature_projection: torch.Tensor,
                               class_projection: torch.Tensor) -> torch.Tensor:
    r"""The randomised map :math:`T_\odot(f, g) = \frac{1}{\sqrt{k}} (R_f^\top f) \odot (R_g^\top g)`, for when
    :math:`C d` is too wide (CDAN, eq. 5): ``feature_projection`` :math:`R_f` is ``(d, k)``, ``class_projection``
    :math:`R_g` is ``(C, k)``, both drawn once and fixed; the inner product of two mapped rows then equals,
    in expectation, that of the full multilinear map.
    """
    where = "randomized_multilinear_map"
    _check_pair(features, probabilities, where)
    for name, t in (("feature_projection", feature_projection), ("class_projection", class_projection)):
        tensor(t, name, where, ndim=2, what="a random projection (width, k)")
    k = feature_projection.shape[-1]
    if feature_projection.shape != (features.shape[1], k) or class_projection.shape != (probabilities.shape[1], k) or k < 1:
        raise ValueError(f"{where}: projections must be ({features.shape[1]}, k) and ({probabilities.shape[1]}, k), k >= 1, "
                         f"got feature_projection {tuple(feature_projection.shape)} and class_projection {tuple(class_projection.shape)}")
    return (features @ feature_projection.to(features)) * (probabilities @ class_projection.to(probabilities)) / math.sqrt(k)


def entropy_weights(probabilities: torch.Tensor) -> torch.Tensor:
    r"""CDAN+E's weight of each example in the domain loss, :math:`w = 1 + e^{-H(g)}` with
    :math:`H(g) = -\sum_c g_c \log g_c`: between :math:`1 + 1/C` (a uniform, uninformative prediction over :math:`C` classes) and 2 (a
    certain one), so examples whose predicted class is likely wrong count less. Detached: the weights steer the
    domain loss, they are not trained.
    """
    if not isinstance(probabilities, torch.Tensor) or not probabilities.is_floating_point() or probabilities.ndim != 2:
        raise ValueError(f"entropy_weights: probabilities must be a floating (N, C) tensor, got "
                         f"{getattr(probabilities, 'dtype', type(probabilities).__name__)} of shape {tuple(getattr(probabilities, 'shape', ()))}")
    p = at_least_float32(probabilities.detach())
    entropy = -(p * torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))).sum(1)
    return 1.0 + torch.exp(-entropy)
