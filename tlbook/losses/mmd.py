r"""Maximum mean discrepancy (MMD) between two samples, and DAN's multi-kernel family.

For a kernel :math:`k`, the squared MMD between distributions :math:`P` and :math:`Q` is

.. math::

    \mathrm{MMD}^2 = \mathbb{E}\,k(x, x') + \mathbb{E}\,k(y, y') - 2\,\mathbb{E}\,k(x, y),
    \qquad x, x' \sim P,\; y, y' \sim Q

(Gretton et al., JMLR 2012). With the linear kernel :math:`k(a, b) = a^\top b` the biased
estimate is :math:`\|\bar x - \bar y\|^2`, the "domain confusion" term of DDC (Tzeng et al. 2014).
DAN (Long et al. 2015) uses a family of Gaussian kernels.

Estimators (Gretton et al. 2012):

- ``"biased"``: means over all pairs including :math:`i = j`; never negative, 0 for identical samples;
- ``"unbiased"``: the within-sample means leave out :math:`i = j`; can be slightly negative;
- ``"linear"``: the linear-time estimate over disjoint quadruples
  :math:`(x_{2i-1}, x_{2i}, y_{2i-1}, y_{2i})`; needs equal, even batch sizes; noisy.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .. import _checks
from ._checks import check_pair, full_precision

__all__ = ["mmd", "mk_mmd", "median_bandwidth", "dan_bandwidths", "squared_distances"]

ESTIMATORS = ("biased", "unbiased", "linear")


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``‖a_i − b_j‖²`` as an ``n×m`` matrix via ``‖a‖² + ‖b‖² − 2abᵀ`` (no ``n×m×d`` tensor)."""
    check_pair(a, b, "squared_distances", min_rows=0, names=("a", "b"))
    return (a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1) - 2 * a @ b.T).clamp_min(0)


def _median_off_diagonal(d2: torch.Tensor) -> torch.Tensor:
    """Median of the strictly upper-triangular entries of a square distance matrix (detached)."""
    n = len(d2)
    values = d2.detach()[torch.ones(n, n, dtype=torch.bool, device=d2.device).triu(1)].sort().values
    middle = len(values) // 2  # the usual median: the mean of the two middle values when even
    median = values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
    return median.clamp_min(torch.finfo(d2.dtype).tiny)


def _centre(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Subtract the pooled mean (detached). Every statistic here is translation invariant, and
    in float32 ``‖a‖² + ‖b‖² − 2a·b`` of features far from the origin loses its digits: with
    features around 10⁴ the MK-MMD came out negative, a number training can exploit."""
    centre = torch.cat([x, y]).mean(0).detach()
    return x - centre, y - centre


def median_bandwidth(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """γ: the median squared distance over distinct pairs of the pooled sample, **detached**.

    The bandwidth is a statistic of the data, not a parameter to learn: a gradient through
    it would let the features shrink or blow up the kernel instead of aligning.
    """
    check_pair(x, y, "median_bandwidth")
    pooled = torch.cat(_centre(x, y)).detach()
    return _median_off_diagonal(squared_distances(pooled, pooled))


def dan_bandwidths(low: int = -8, high: int = 8) -> list[float]:
    """Multipliers ``2^(u/2)`` for ``u = 2·low … 2·high``: 2⁻⁸ … 2⁸ in steps of √2 (Long et al. 2015)."""
    low, high = (_checks.integer(v, name, "dan_bandwidths", minimum=None) for v, name in ((low, "low"), (high, "high")))
    if low > high:
        raise ValueError(f"dan_bandwidths: low must not exceed high, got low={low}, high={high}")
    return [2.0 ** (u / 2) for u in range(2 * low, 2 * high + 1)]


# exp(−80) ≈ 2·10⁻³⁵. Below about exp(−87) float32 turns subnormal, and CPUs compute subnormal
# numbers many times slower: DAN's narrowest kernels put most pairs there. Clamping the exponent
# changes no kernel value by more than 2·10⁻³⁵.
_MIN_EXPONENT = -80.0


def _kernels(d2: torch.Tensor, rates: torch.Tensor) -> torch.Tensor:
    """``exp(−d²/γ_u)`` for every kernel ``u`` (``rates = −1/γ``), stacked along a new first dimension."""
    return torch.exp((d2.unsqueeze(0) * rates.view((-1,) + (1,) * d2.ndim)).clamp_min(_MIN_EXPONENT))


class _KernelSum(torch.autograd.Function):
    """``k = Σ_u w_u exp(−d²/γ_u)`` with constant ``w`` and ``γ``, and its derivative
    ``∂k/∂d² = Σ_u w_u (−1/γ_u) exp(−d²/γ_u)`` taken in the same pass over the kernels.

    Plain autograd would keep all 33 kernel matrices of DAN for the backward pass and go over
    them four more times; here the backward pass is one product. Gradient-checked in the tests.
    """

    @staticmethod
    def forward(ctx, d2: torch.Tensor, rates: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        kernels = _kernels(d2, rates)
        ctx.save_for_backward(torch.tensordot(weights * rates, kernels, dims=1))
        return torch.tensordot(weights, kernels, dims=1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        if torch.is_grad_enabled():  # create_graph=True: a second derivative would silently miss this term
            raise RuntimeError("mk_mmd: second derivatives through the kernels are not implemented; pass "
                               "bandwidth= a tensor with requires_grad=True to differentiate with plain autograd")
        (slope,) = ctx.saved_tensors
        return grad * slope, None, None


def _gaussian(d2: torch.Tensor, gammas: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``Σ_u w_u exp(−d²/γ_u)`` elementwise over ``d2``."""
    rates = -1 / gammas
    if rates.requires_grad or weights.requires_grad:  # a learnt bandwidth or kernel weights: plain autograd
        return torch.tensordot(weights, _kernels(d2, rates), dims=1)
    return _KernelSum.apply(d2, rates, weights)


def _estimate(k: torch.Tensor, n: int, estimator: str) -> torch.Tensor:
    """MMD² from the pooled kernel matrix ``k`` (source rows first, ``n`` of them)."""
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    if estimator == "biased":
        return kxx.mean() + kyy.mean() - 2 * kxy.mean()
    m = len(k) - n
    return (
        (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
        + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
        - 2 * kxy.mean()
    )


def _linear_time(x: torch.Tensor, y: torch.Tensor, paired_kernel) -> torch.Tensor:
    """The linear-time estimate over quadruples ``(x_{2i-1}, x_{2i}, y_{2i-1}, y_{2i})``."""
    x1, x2, y1, y2 = x[0::2], x[1::2], y[0::2], y[1::2]
    return (paired_kernel(x1, x2) + paired_kernel(y1, y2) - paired_kernel(x1, y2) - paired_kernel(x2, y1)).mean()


def _check_estimator(x: torch.Tensor, y: torch.Tensor, estimator: str, name: str) -> None:
    if estimator not in ESTIMATORS:
        raise ValueError(f"{name}: unknown estimator {estimator!r}; choose from {ESTIMATORS}")
    check_pair(x, y, name, min_rows=2 if estimator != "biased" else 1)
    if estimator == "linear" and (len(x) != len(y) or len(x) % 2):
        raise ValueError(f"{name}: the linear-time estimator needs equal, even batch sizes, got {len(x)} and {len(y)}")


@full_precision
def mk_mmd(
    x: torch.Tensor,
    y: torch.Tensor,
    multipliers: Sequence[float] | None = None,
    weights: Sequence[float] | None = None,
    estimator: str = "biased",
    bandwidth: float | torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Multi-kernel MMD² of DAN (Long et al., ICML 2015).

    :math:`k = \sum_u \beta_u \exp(-\|a - b\|^2 / \gamma_u)` with :math:`\gamma_u = m_u\,\gamma`,
    :math:`\gamma` the median squared pairwise distance (detached) unless ``bandwidth`` is given.
    Defaults: multipliers :math:`2^{-8} \dots 2^{8}` in :math:`\sqrt2` steps (``dan_bandwidths()``,
    33 kernels) and uniform weights :math:`\beta_u = 1/33`. The paper also learns β; the
    book keeps it uniform, as most reimplementations do.
    """
    _check_estimator(x, y, estimator, "mk_mmd")
    multipliers = dan_bandwidths() if multipliers is None else list(multipliers)
    if not multipliers:
        raise ValueError("mk_mmd: multipliers must be a non-empty list of positive numbers, got []")
    multipliers = [_checks.number(mu, "multipliers", "mk_mmd", low=0.0, low_open=True) for mu in multipliers]
    weights = [1.0 / len(multipliers)] * len(multipliers) if weights is None else [
        _checks.number(w, "weights", "mk_mmd", low=0.0) for w in weights]
    if len(weights) != len(multipliers):
        raise ValueError(f"mk_mmd: {len(weights)} weights for {len(multipliers)} kernels")
    x, y = _centre(x, y)
    pooled = torch.cat([x, y])
    d2 = squared_distances(pooled, pooled)  # one n+m square matrix serves the bandwidth and all kernels
    gamma = _median_off_diagonal(d2) if bandwidth is None else _given_bandwidth(bandwidth, x)
    gammas = gamma * torch.tensor(multipliers, dtype=x.dtype, device=x.device)
    beta = torch.tensor(weights, dtype=x.dtype, device=x.device)
    if estimator == "linear":
        return _linear_time(x, y, lambda a, b: _gaussian((a - b).pow(2).sum(1), gammas, beta))
    return _estimate(_gaussian(d2, gammas, beta), len(x), estimator)


def _given_bandwidth(bandwidth: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A bandwidth the caller gives must be one positive, finite number (a tensor is checked only
    when it lives on the CPU: reading a GPU value back would stall every step)."""
    if not isinstance(bandwidth, torch.Tensor):
        _checks.number(bandwidth, "bandwidth", "mk_mmd", low=0.0, low_open=True)
    gamma = torch.as_tensor(bandwidth, dtype=x.dtype, device=x.device)
    if gamma.numel() != 1:
        raise ValueError(f"mk_mmd: bandwidth must be one number, got shape {tuple(gamma.shape)}")
    if gamma.device.type == "cpu" and not (torch.isfinite(gamma) and gamma > 0):
        raise ValueError(f"mk_mmd: bandwidth must be a positive, finite number, got {float(gamma)}")
    return gamma.reshape(())


@full_precision
def mmd(
    x: torch.Tensor,
    y: torch.Tensor,
    kernel: str = "linear",
    estimator: str = "biased",
    bandwidth: float | torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Squared MMD between the rows of ``x`` (source) and ``y`` (target).

    ``kernel="linear"``: :math:`k(a, b) = a^\top b`; the biased estimate is
    :math:`\|\bar x - \bar y\|_2^2`, DDC's loss (Tzeng et al. 2014), computed in
    :math:`O((n + m)d)`.

    ``kernel="gaussian"``: :math:`k(a, b) = \exp(-\|a - b\|^2 / \gamma)`, with
    :math:`\gamma` the median squared pairwise distance of the pooled sample (detached)
    unless ``bandwidth`` is given.
    """
    _check_estimator(x, y, estimator, "mmd")
    if kernel == "gaussian":
        return mk_mmd(x, y, multipliers=[1.0], estimator=estimator, bandwidth=bandwidth)
    if kernel != "linear":
        raise ValueError(f"mmd: unknown kernel {kernel!r}; choose 'linear' or 'gaussian'")
    if estimator == "biased":
        return (x.mean(0) - y.mean(0)).pow(2).sum()
    x, y = _centre(x, y)
    if estimator == "linear":
        return _linear_time(x, y, lambda a, b: (a * b).sum(1))
    pooled = torch.cat([x, y])
    return _estimate(pooled @ pooled.T, len(x), estimator)
