r"""Deep CORAL: align the second-order statistics of source and target features."""
from __future__ import annotations

import torch

from .. import _checks
from ._checks import check_pair, full_precision

__all__ = ["coral", "covariance"]


def covariance(x: torch.Tensor) -> torch.Tensor:
    r"""Unbiased covariance of the rows of ``x``: :math:`\frac{1}{n-1}(x - \bar x)^\top (x - \bar x)`."""
    _checks.tensor(x, "x", "covariance", ndim=2, min_rows=2, what="features (rows, features)")
    centred = x - x.mean(0, keepdim=True)
    return centred.T @ centred / (len(x) - 1)


@full_precision
def coral(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""CORAL loss of Sun & Saenko (ECCV-W 2016):

    .. math::

        \ell_{\mathrm{CORAL}} = \frac{1}{4d^2}\,\|C_S - C_T\|_F^2,

    with :math:`C_S, C_T` the unbiased :math:`d \times d` covariances of the source rows
    ``x`` and target rows ``y``. Needs at least two rows on each side. With fewer rows
    than features the covariances are rank-deficient: attach CORAL to a narrow layer.
    Paper defaults: on the last layer (fc8), batch 128, λ chosen so that the CORAL and
    classification losses are about equal at the end of training.
    """
    check_pair(x, y, "coral", min_rows=2)
    d = x.shape[1]
    return (covariance(x) - covariance(y)).pow(2).sum() / (4 * d * d)
