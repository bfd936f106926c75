"""Embarrassingly simple zero-shot learning (Romera-Paredes & Torr, ICML 2015): a closed form."""
from __future__ import annotations

import torch

from .. import _checks
from .data import _problem
from .metrics import per_class_accuracy, predict
from .model import signatures

__all__ = ["eszsl_accuracy", "eszsl_fit", "eszsl_scores"]


def eszsl_fit(features: torch.Tensor, labels: torch.Tensor, signatures: torch.Tensor,
              gamma: float = 1.0, lam: float = 1.0) -> torch.Tensor:
    r"""The bilinear map V (d × a) of ESZSL, in closed form:

    .. math:: V = (X X^\top + \gamma I)^{-1}\, X Y S^\top\, (S S^\top + \lambda I)^{-1}

    with X (d × m) the training features as columns, Y (m × z) the labels in {−1, +1}
    (one column per training class), S (a × z) the training classes' signatures as columns.
    ``features``: (m, d); ``labels``: (m,) int64 indices into the rows of ``signatures`` (z, a).
    Computed in float64. Scores: :func:`eszsl_scores`. The paper tunes γ, λ over powers of 10.
    """
    _checks.tensor(features, "features", "eszsl_fit", ndim=2, what="features (m, d)")
    _checks.tensor(signatures, "signatures", "eszsl_fit", ndim=2, floating=None, min_rows=1, what="class signatures (z, a)")
    if len(features) == 0 or features.shape[1] == 0 or signatures.shape[1] == 0:
        raise ValueError(f"eszsl_fit needs at least one example, one feature and one attribute, got features "
                         f"{tuple(features.shape)} and signatures {tuple(signatures.shape)}")
    _checks.labels(labels, "labels", "eszsl_fit", num_classes=len(signatures), n=len(features))
    for value, name in ((gamma, "gamma"), (lam, "lam")):
        _checks.number(value, name, "eszsl_fit", low=0.0, low_open=True)
    X = features.double().T
    S = signatures.double().T
    Y = 2 * torch.nn.functional.one_hot(labels, len(signatures)).double() - 1
    d, a = X.shape[0], S.shape[0]
    left = torch.linalg.solve(X @ X.T + gamma * torch.eye(d, dtype=X.dtype, device=X.device), X @ Y @ S.T)
    right = torch.linalg.solve(S @ S.T + lam * torch.eye(a, dtype=S.dtype, device=S.device), torch.eye(a, dtype=S.dtype, device=S.device))
    return left @ right


def eszsl_scores(features: torch.Tensor, V: torch.Tensor, signatures: torch.Tensor) -> torch.Tensor:
    """Scores xᵀ V s_y of each row of ``features`` (n, d) for each class signature (C, a): (n, C)."""
    _checks.tensor(features, "features", "eszsl_scores", ndim=2, what="features (n, d)")
    _checks.tensor(V, "V", "eszsl_scores", ndim=2, what="the map of eszsl_fit (d, a)")
    _checks.tensor(signatures, "signatures", "eszsl_scores", ndim=2, floating=None, min_rows=1, what="class signatures (C, a)")
    if V.shape != (features.shape[1], signatures.shape[1]):
        raise ValueError(f"eszsl_scores: V must be ({features.shape[1]}, {signatures.shape[1]}) for these features and "
                         f"signatures, got {tuple(V.shape)}")
    return (features.double() @ V.double() @ signatures.double().T).to(features.dtype)


def eszsl_accuracy(problem, gamma: float = 1.0, lam: float = 1.0) -> float:
    """ESZSL on the pixels of ``problem`` (a ``ZeroShotData``): fitted on the seen classes, scored by
    per-class accuracy on the unseen test images among the unseen classes."""
    _problem(problem, "problem", "eszsl_accuracy")
    for value, name in ((gamma, "gamma"), (lam, "lam")):
        _checks.number(value, name, "eszsl_accuracy", low=0.0, low_open=True)
    V = eszsl_fit(problem.x_train.flatten(1), torch.searchsorted(problem.seen, problem.y_train),
                  signatures(problem.attributes[problem.seen]), gamma, lam)
    scores = eszsl_scores(problem.x_test_unseen.flatten(1), V, signatures(problem.attributes[problem.unseen]))
    return per_class_accuracy(predict(scores, problem.unseen), problem.y_test_unseen)
