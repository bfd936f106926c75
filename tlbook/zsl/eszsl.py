"""Embarrassingly simple zero-shot learning (Romera-Paredes & Torr, ICML 2015): a closed form."""
from __future__ import annotations

import torch

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
    if features.ndim != 2 or signatures.ndim != 2:
        raise ValueError(f"features (m, d) and signatures (z, a) must be 2-D, got {tuple(features.shape)} and {tuple(signatures.shape)}")
    if labels.ndim != 1 or len(labels) != len(features) or labels.dtype != torch.int64:
        raise ValueError(f"labels must be int64 of shape ({len(features)},), got {labels.dtype} {tuple(labels.shape)}")
    if len(features) == 0 or features.shape[1] == 0 or signatures.numel() == 0:
        raise ValueError(f"eszsl_fit needs at least one example, one feature and one class signature, got features "
                         f"{tuple(features.shape)} and signatures {tuple(signatures.shape)}")
    if labels.min() < 0 or labels.max() >= len(signatures):
        raise ValueError(f"labels must index the {len(signatures)} rows of signatures")
    if gamma <= 0 or lam <= 0:
        raise ValueError(f"gamma and lam must be > 0, got {gamma} and {lam}")
    X = features.double().T
    S = signatures.double().T
    Y = 2 * torch.nn.functional.one_hot(labels, len(signatures)).double() - 1
    d, a = X.shape[0], S.shape[0]
    left = torch.linalg.solve(X @ X.T + gamma * torch.eye(d, dtype=X.dtype, device=X.device), X @ Y @ S.T)
    right = torch.linalg.solve(S @ S.T + lam * torch.eye(a, dtype=S.dtype, device=S.device), torch.eye(a, dtype=S.dtype, device=S.device))
    return left @ right


def eszsl_scores(features: torch.Tensor, V: torch.Tensor, signatures: torch.Tensor) -> torch.Tensor:
    """Scores xᵀ V s_y of each row of ``features`` (n, d) for each class signature (C, a): (n, C)."""
    return (features.double() @ V @ signatures.double().T).to(features.dtype)


def eszsl_accuracy(problem, gamma: float = 1.0, lam: float = 1.0) -> float:
    """ESZSL on the pixels of ``problem`` (a ``ZeroShotData``): fitted on the seen classes, scored by
    per-class accuracy on the unseen test images among the unseen classes."""
    V = eszsl_fit(problem.x_train.flatten(1), torch.searchsorted(problem.seen, problem.y_train),
                  signatures(problem.attributes[problem.seen]), gamma, lam)
    scores = eszsl_scores(problem.x_test_unseen.flatten(1), V, signatures(problem.attributes[problem.unseen]))
    return per_class_accuracy(predict(scores, problem.unseen), problem.y_test_unseen)
