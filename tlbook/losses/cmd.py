r"""Central moment discrepancy (CMD) between two samples of bounded features."""
from __future__ import annotations

import torch

from .. import _checks
from ._checks import check_pair, full_precision

__all__ = ["cmd"]


@full_precision
def cmd(x: torch.Tensor, y: torch.Tensor, k: int = 5, bounds: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    r"""CMD of Zellinger et al. (ICLR 2017), for features bounded in ``bounds`` = [a, b]:

    .. math::

        \mathrm{CMD}_K = \frac{\|\mathbb{E}(X) - \mathbb{E}(Y)\|_2}{|b-a|}
        + \sum_{j=2}^{K} \frac{\|c_j(X) - c_j(Y)\|_2}{|b-a|^j},
        \qquad c_j(X) = \mathbb{E}\big((X - \mathbb{E}X)^j\big)

    (moments per feature, over the batch). Defaults K = 5 and [0, 1] for sigmoid features,
    as in the paper (trade-off weight λ = 1 there). Unbounded features (ReLU) make the
    high moments explode: use a bounded layer. The norms use ``torch.linalg.vector_norm``,
    whose gradient at 0 is 0, so two equal samples give a finite gradient (the official
    code's ``sqrt(sum(...))`` gives NaN there).
    """
    check_pair(x, y, "cmd", min_rows=1)
    k = _checks.integer(k, "k", "cmd")
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
        raise TypeError(f"cmd: bounds must be a pair (a, b) with a < b, got {bounds!r}")
    a, b = (_checks.number(v, "bounds", "cmd") for v in bounds)
    if not a < b:
        raise ValueError(f"cmd: bounds must be an interval (a, b) with a < b, got {tuple(bounds)}")
    span = b - a
    mx, my = x.mean(0), y.mean(0)
    total = torch.linalg.vector_norm(mx - my) / span
    cx, cy = x - mx, y - my
    for j in range(2, k + 1):
        total = total + torch.linalg.vector_norm(cx.pow(j).mean(0) - cy.pow(j).mean(0)) / span**j
    return total
