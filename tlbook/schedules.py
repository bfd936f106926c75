"""Schedules as functions of training progress ``p`` in ``[0, 1]`` (step / total steps).

Driving every schedule by progress, computed from the training loop's step counter,
keeps them correct after a checkpoint is resumed and independent of how often a
method calls its networks.
"""
from __future__ import annotations

import math

from . import _checks

__all__ = ["dann_lr", "dann_lambda"]


def _check(p: float, where: str) -> float:
    return _checks.number(p, "p (the progress)", where, low=0.0, high=1.0)


def dann_lr(p: float, alpha: float = 10.0, beta: float = 0.75) -> float:
    r"""Learning-rate factor of Ganin et al. (JMLR 2016): :math:`1 / (1 + \alpha p)^\beta`.

    Multiply the initial rate :math:`\mu_0 = 0.01` by it: :math:`\mu_p = \mu_0 / (1 + 10p)^{0.75}`.
    """
    alpha, beta = (_checks.number(v, name, "dann_lr", low=0.0) for v, name in ((alpha, "alpha"), (beta, "beta")))
    return 1.0 / (1.0 + alpha * _check(p, "dann_lr")) ** beta


def dann_lambda(p: float, gamma: float = 10.0) -> float:
    r"""Adaptation weight ramp of Ganin et al. (JMLR 2016): :math:`2 / (1 + e^{-\gamma p}) - 1`.

    0 at the start, ≈ 0.987 at ``p = 0.5``, ≈ 0.9999 at the end: the domain term is
    switched on gently while the label predictor's early gradients are noisy.
    """
    gamma = _checks.number(gamma, "gamma", "dann_lambda", low=0.0)
    return 2.0 / (1.0 + math.exp(-gamma * _check(p, "dann_lambda"))) - 1.0

