r"""Gradient reversal (Ganin & Lempitsky, ICML 2015; Ganin et al., JMLR 2016).

.. math::

    R_\lambda(x) = x, \qquad \frac{\partial R_\lambda}{\partial x} = -\lambda I

Put between a feature extractor and a domain classifier, one backward pass trains the
classifier to *minimise* the domain loss and the features to *maximise* it: the
min-max game of DANN without alternating updates.
"""
from __future__ import annotations

import torch
from torch import nn

from .. import _checks

__all__ = ["GradientReversal", "grad_reverse"]


def _coefficient(value: object, where: str) -> float:
    """λ: a finite number >= 0 (the reversal already flips the sign; NaN or inf would poison every gradient)."""
    value = _checks.number(value, "coefficient", where)
    if value < 0:
        raise ValueError(f"{where}: coefficient must be non-negative (the reversal already flips the sign), got {value:g}")
    return value


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, coefficient: float) -> torch.Tensor:
        ctx.coefficient = coefficient
        return x.view_as(x)  # a new tensor object, so autograd calls our backward

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.coefficient * grad, None


def grad_reverse(x: torch.Tensor, coefficient: float = 1.0) -> torch.Tensor:
    """Identity forward; the backward pass multiplies the incoming gradient by ``-coefficient``."""
    _checks.tensor(x, "x", "grad_reverse", floating=None)
    coefficient = _coefficient(coefficient, "grad_reverse")
    return _ReverseGradient.apply(x, coefficient)


class GradientReversal(nn.Module):
    """``grad_reverse`` as a module. ``coefficient`` is a plain attribute: a method sets it
    from the training progress every step (``dann_lambda(p)``), so it follows the step
    counter that ``fit`` saves with checkpoints rather than counting forward calls."""

    def __init__(self, coefficient: float = 1.0):
        super().__init__()
        self.coefficient = _coefficient(coefficient, "GradientReversal")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grad_reverse(x, self.coefficient)

    def extra_repr(self) -> str:
        return f"coefficient={self.coefficient:g}"
