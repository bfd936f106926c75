"""Zero-shot evaluation: prediction over a candidate set, per-class accuracy, and the generalised setting."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import _checks
from ..metrics import extract
from .data import _attribute_matrix, _problem

__all__ = ["class_scores", "predict", "per_class_accuracy", "harmonic_mean", "GeneralisedResult",
           "generalised", "seen_unseen_curve", "choose_calibration", "unseen_accuracy", "generalised_scores"]


def class_scores(model: nn.Module, x: torch.Tensor, attributes: torch.Tensor, candidates: torch.Tensor,
                 batch_size: int = 256) -> torch.Tensor:
    """Scores (N, len(candidates)) of ``model(x, attributes[candidates])``, in eval mode, in chunks."""
    _checks.module(model, "model", "class_scores", what="a zero-shot model, model(x, attributes)")
    _attribute_matrix(attributes, "attributes", "class_scores")
    candidates = _as_classes(candidates, len(attributes))
    rows = attributes[candidates]
    scores = extract(lambda chunk: model(chunk, rows), model, x, batch_size)
    if scores.shape != (len(x), len(candidates)):
        raise ValueError(f"class_scores: the model gave scores of shape {tuple(scores.shape)} for x of shape "
                         f"{tuple(x.shape)}, expected one row per input and one column per candidate, "
                         f"({len(x)}, {len(candidates)})")
    return scores


def predict(scores: torch.Tensor, candidates: torch.Tensor, seen: torch.Tensor | None = None,
            calibration: float = 0.0) -> torch.Tensor:
    """The candidate class with the highest score; always a member of ``candidates``.

    Calibrated stacking (Chao et al., ECCV 2016): ``calibration`` γ is subtracted from the
    scores of candidates that are ``seen`` classes before the argmax, so γ > 0 favours unseen classes.
    """
    candidates = _candidates(candidates, "predict")
    _checks.tensor(scores, "scores", "predict", ndim=2, min_rows=1, what="class scores (N, candidates)")
    if scores.shape[1] != len(candidates):
        raise ValueError(f"predict: scores must be (N, {len(candidates)}) for {len(candidates)} candidates, got {tuple(scores.shape)}")
    calibration = _checks.number(calibration, "calibration", "predict")
    candidates = candidates.to(scores.device)
    if seen is not None and calibration:
        seen = _checks.labels(torch.as_tensor(seen) if isinstance(seen, (list, tuple)) else seen, "seen", "predict")
        scores = scores - calibration * torch.isin(candidates, seen.to(scores.device)).to(scores.dtype)
    return candidates[scores.argmax(1)]


def per_class_accuracy(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over the classes present in ``labels`` of the fraction of that class predicted correctly.

    The standard zero-shot metric (Xian et al., TPAMI 2018): every class counts equally,
    however many test images it has.
    """
    _checks.labels(labels, "labels", "per_class_accuracy", min_rows=1, any_integer=True)
    _checks.labels(predictions, "predictions", "per_class_accuracy", n=len(labels), any_integer=True)
    return torch.stack([(predictions[labels == c] == c).float().mean() for c in labels.unique()]).mean().item()


def harmonic_mean(u: float, s: float) -> float:
    """H = 2us / (u + s), the generalised zero-shot summary; 0 when u + s = 0."""
    u, s = (_checks.number(v, name, "harmonic_mean", low=0.0, high=1.0) for v, name in ((u, "u"), (s, "s")))
    return 0.0 if u + s == 0 else 2 * u * s / (u + s)


@dataclass(frozen=True)
class GeneralisedResult:
    """Generalised zero-shot accuracies: u on unseen-class images, s on seen-class images, H their harmonic mean
    (each in [0, 1]; an H that is not the harmonic mean of u and s is refused)."""

    u: float
    s: float
    H: float

    def __post_init__(self):
        u, s, H = (_checks.number(v, name, "GeneralisedResult", low=0.0, high=1.0) for v, name in
                   ((self.u, "u"), (self.s, "s"), (self.H, "H")))
        if abs(H - harmonic_mean(u, s)) > 1e-6:
            raise ValueError(f"GeneralisedResult: H must be the harmonic mean of u and s, {harmonic_mean(u, s):g}, "
                             f"got {H:g}")


def generalised(scores_seen: torch.Tensor, y_seen: torch.Tensor, scores_unseen: torch.Tensor, y_unseen: torch.Tensor,
                candidates: torch.Tensor, seen: torch.Tensor, calibration: float = 0.0) -> GeneralisedResult:
    """u, s and H with every class (seen and unseen) as a candidate for every test image."""
    u = per_class_accuracy(predict(scores_unseen, candidates, seen, calibration), y_unseen)
    s = per_class_accuracy(predict(scores_seen, candidates, seen, calibration), y_seen)
    return GeneralisedResult(u, s, harmonic_mean(u, s))


def seen_unseen_curve(scores_seen, y_seen, scores_unseen, y_unseen, candidates, seen, num: int = 41):
    """(γ, u, s, H) as ``num``-point tensors for γ from "always seen" to "always unseen".

    The γ range is read from the scores themselves: the gap between the best seen and the
    best unseen candidate of every test image.
    """
    if not 2 <= _checks.integer(num, "num", "seen_unseen_curve", minimum=2) <= 1001:
        raise ValueError(f"seen_unseen_curve: num must lie in [2, 1001] points (each one evaluates every test image), got {num}")
    candidates, seen = _candidates(candidates, "seen_unseen_curve"), _candidates(seen, "seen_unseen_curve", "seen")
    is_seen = torch.isin(candidates.to(scores_seen.device), seen.to(scores_seen.device))
    if is_seen.all() or not is_seen.any():
        raise ValueError("seen_unseen_curve: candidates must hold both seen and unseen classes (seen names the seen ones)")
    scores = torch.cat([scores_seen, scores_unseen])
    gap = scores[:, is_seen].amax(1) - scores[:, ~is_seen].amax(1)
    gammas = torch.quantile(gap.float(), torch.linspace(0, 1, num, device=gap.device)).tolist()
    gammas = [min(gammas) - 1.0] + gammas[1:-1] + [max(gammas) + 1.0]
    rows = [generalised(scores_seen, y_seen, scores_unseen, y_unseen, candidates, seen, g) for g in gammas]
    return (torch.tensor(gammas), torch.tensor([r.u for r in rows]), torch.tensor([r.s for r in rows]),
            torch.tensor([r.H for r in rows]))


def choose_calibration(scores_seen, y_seen, scores_unseen, y_unseen, candidates, seen, num: int = 41) -> float:
    """The γ with the highest H on a validation problem (pseudo-unseen classes; never the real unseen ones)."""
    gammas, _, _, H = seen_unseen_curve(scores_seen, y_seen, scores_unseen, y_unseen, candidates, seen, num)
    return gammas[H.argmax()].item()


def unseen_accuracy(model: nn.Module, problem) -> float:
    """Per-class accuracy on the unseen test images of ``problem`` (a ``ZeroShotData``), the unseen
    classes being the only candidates: the conventional zero-shot score."""
    _problem(problem, "problem", "unseen_accuracy")
    scores = class_scores(model, problem.x_test_unseen, problem.attributes, problem.unseen)
    return per_class_accuracy(predict(scores, problem.unseen), problem.y_test_unseen)


def generalised_scores(model: nn.Module, problem) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores of the seen and of the unseen test images of ``problem`` against **every** class: the input of
    ``generalised``, ``seen_unseen_curve`` and ``choose_calibration``."""
    _problem(problem, "problem", "generalised_scores")
    every_class = torch.arange(problem.num_classes, device=problem.attributes.device)
    return (class_scores(model, problem.x_test_seen, problem.attributes, every_class),
            class_scores(model, problem.x_test_unseen, problem.attributes, every_class))


def _candidates(candidates: torch.Tensor, where: str, name: str = "candidates") -> torch.Tensor:
    """Class ids as a non-empty 1-D int64 tensor (a list of ints is accepted), each once."""
    if isinstance(candidates, (list, tuple)):
        candidates = torch.tensor(candidates) if candidates else torch.zeros(0, dtype=torch.int64)
    _checks.labels(candidates, name, where, min_rows=1, any_integer=True)
    if (candidates < 0).any():
        raise ValueError(f"{where}: {name} must be class ids (non-negative), got {candidates.tolist()}")
    if len(candidates.unique()) != len(candidates):
        raise ValueError(f"{where}: {name} must name each class once, got {candidates.tolist()}")
    return candidates


def _as_classes(candidates: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``_candidates``, each also a row of the attribute matrix: in ``[0, num_classes)``."""
    candidates = _candidates(candidates, "class_scores")
    return _checks.labels(candidates, "candidates", "class_scores", num_classes=num_classes, any_integer=True)
