"""Checkers for chapter 7's pieces: CDAN's multilinear maps and black-box shift estimation's weights."""
from __future__ import annotations

import math
from typing import Callable

import torch

from .. import label_shift, losses
from ._harness import Case, Mistake, devices, expect_callable, run_checks

__all__ = ["bbse_weights", "multilinear_map", "randomized_multilinear_map"]

_SHAPES = ((4, 3, 2, torch.float32), (7, 5, 10, torch.float32), (1, 4, 3, torch.float32), (6, 2, 4, torch.float64))


def _features_and_predictions(seed: int = 0) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Features ``(N, d)`` and softmax predictions ``(N, C)``: one example alone, ten classes, float64."""
    g = torch.Generator().manual_seed(seed)
    found = []
    for n, d, c, dtype in _SHAPES:
        f = torch.randn(n, d, generator=g, dtype=dtype)
        p = torch.softmax(2 * torch.randn(n, c, generator=g, dtype=dtype), 1)
        found.append((f"f {n}×{d}, g {n}×{c}, {str(dtype).replace('torch.', '')}", f, p))
    return found


def multilinear_map(student: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``student(f, g)``: CDAN's map :math:`g \\otimes f` of features ``f`` ``(N, d)`` and predictions ``g``
    ``(N, C)``, row by row, flattened to ``(N, C d)``: entry :math:`c d + j` is :math:`g_c f_j`."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("multilinear_map", student)
    cases = [Case(f"{name}, {device.type}", (f.to(device), p.to(device)))
             for name, f, p in _features_and_predictions() for device in devices()]
    mistakes = [
        Mistake("the blocks are in the other order: entry c·d + j must be g_c·f_j (one block of d features per class, "
                "the class index first), you flattened f ⊗ g (one block per feature)",
                lambda f, p: torch.einsum("nd,nc->ndc", f, p).flatten(1)),
        Mistake("you multiplied the features by the probability of the *predicted* class only: the map keeps every "
                "class's product, C blocks of d", lambda f, p: (p.amax(1, keepdim=True) * f).repeat(1, p.shape[1])),
        Mistake("the probabilities were detached or rounded to the predicted class (one-hot): the map uses g as it is",
                lambda f, p: losses.multilinear_map(f, torch.nn.functional.one_hot(p.argmax(1), p.shape[1]).to(p))),
    ]
    run_checks("multilinear_map", student, losses.multilinear_map, cases, mistakes)


def randomized_multilinear_map(student: Callable[..., torch.Tensor]) -> None:
    """``student(f, g, r_f, r_g)``: CDAN's randomised map :math:`\\frac{1}{\\sqrt{k}} (f R_f) \\odot (g R_g)`, with
    ``r_f`` ``(d, k)`` and ``r_g`` ``(C, k)`` fixed Gaussian projections; the result is ``(N, k)``."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("randomized_multilinear_map", student)
    g = torch.Generator().manual_seed(1)
    cases = []
    for (name, f, p), k in zip(_features_and_predictions(1), (8, 16, 5, 64)):
        r_f = torch.randn(f.shape[1], k, generator=g, dtype=f.dtype)
        r_g = torch.randn(p.shape[1], k, generator=g, dtype=p.dtype)
        for device in devices():
            cases.append(Case(f"{name}, k {k}, {device.type}", tuple(t.to(device) for t in (f, p, r_f, r_g))))
    mistakes = [
        Mistake("the 1/√k is missing: without it the mapped vectors grow with k, and their inner products no longer "
                "match the full map's", lambda f, p, rf, rg: (f @ rf) * (p @ rg)),
        Mistake("you divided by k, not by √k", lambda f, p, rf, rg: (f @ rf) * (p @ rg) / rf.shape[1]),
        Mistake("the two projections are added; the map multiplies them, entry by entry",
                lambda f, p, rf, rg: ((f @ rf) + (p @ rg)) / math.sqrt(rf.shape[1])),
    ]
    run_checks("randomized_multilinear_map", student, losses.randomized_multilinear_map, cases, mistakes)


def _shift_cases() -> list[Case]:
    """Joint confusion matrices ``C[i, j] = p_s(prediction i, class j)`` of decent classifiers and target
    prediction rates ``μ = C w``: a few classes, ten classes, a class the target lacks (noise makes its
    solved weight negative: it must be clipped to 0), float32 inputs (the result is float64)."""
    g = torch.Generator().manual_seed(2)
    cases = []
    for classes, missing, dtype in ((3, False, torch.float64), (10, False, torch.float64), (4, True, torch.float64),
                                    (5, False, torch.float32)):
        prior = torch.rand(classes, generator=g, dtype=torch.float64) + 0.5
        prior = prior / prior.sum()
        given_class = torch.rand(classes, classes, generator=g, dtype=torch.float64) + 4 * torch.eye(classes, dtype=torch.float64)
        confusion = given_class / given_class.sum(0) * prior  # column j: p(prediction | class j) · p_s(j)
        weights = torch.rand(classes, generator=g, dtype=torch.float64) * 2
        if missing:
            weights[0] = 0.0
        rates = confusion @ weights
        rates = rates / rates.sum()
        if missing:
            rates = rates - 0.02 * confusion[:, 0] / confusion[:, 0].sum()  # estimation noise pushes w_0 below 0
            rates = rates.clamp_min(0) / rates.clamp_min(0).sum()
        name = f"{classes} classes{', the target lacks class 0' if missing else ''}, {str(dtype).replace('torch.', '')}"
        cases.append(Case(name, (confusion.to(dtype), rates.to(dtype))))
    return cases


def bbse_weights(student: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``student(confusion, target_rates)``: BBSE's class weights :math:`w = \\max(C^{-1}\\mu, 0)` in float64, from
    the joint source confusion ``C[i, j]`` (share predicted ``i`` with class ``j``) and the target's share
    ``μ[i]`` of each predicted class (Lipton et al., 2018)."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("bbse_weights", student)
    solve = lambda c, mu: torch.linalg.solve(c.double(), mu.double())  # noqa: E731
    mistakes = [
        Mistake("the system is transposed: C[i, j] is (prediction i, class j), and μ = C w sums over the classes j "
                "of each row (solve C w = μ, not Cᵀ w = μ)", lambda c, mu: torch.linalg.solve(c.double().T, mu.double()).clamp_min(0)),
        Mistake("a negative solution is not clipped: a class weight p_t(y) / p_s(y) cannot be below 0 (clip with "
                ".clamp_min(0))", solve),
        Mistake("you divided the target rates by the source's class proportions instead of solving the system: that "
                "ignores the classifier's mistakes", lambda c, mu: (mu.double() / c.double().sum(0)).clamp_min(0)),
    ]
    run_checks("bbse_weights", student, label_shift.bbse_weights, _shift_cases(), mistakes, rtol=1e-6, atol=1e-9)
