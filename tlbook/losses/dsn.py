r"""The two reconstruction-side losses of Domain Separation Networks (Bousmalis et al., NIPS 2016)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _checks
from ._checks import at_least_float32

__all__ = ["difference_loss", "scale_invariant_mse"]


def _check_codes(shared: torch.Tensor, private: torch.Tensor) -> None:
    for label, t in (("shared", shared), ("private", private)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.ndim != 2:
            raise ValueError(f"difference_loss: {label} codes must be a float (N, d) tensor, got "
                             f"{getattr(t, 'dtype', type(t).__name__)} {tuple(getattr(t, 'shape', ()))}")
    if len(shared) != len(private):
        raise ValueError(f"difference_loss: {len(shared)} shared codes but {len(private)} private codes; "
                         "they must describe the same examples")
    if len(shared) < 2:
        raise ValueError("difference_loss: needs at least 2 examples (codes are centred over the batch)")


def difference_loss(shared: torch.Tensor, private: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    r"""Soft orthogonality between the shared and the private codes of one domain:

    .. math:: \mathcal{L}_{difference} = \frac{1}{d_c d_p}\,\big\|\tilde H_c^\top \tilde H_p\big\|_F^2

    :math:`H_c` (N, d_c) and :math:`H_p` (N, d_p) hold the codes of the same N examples
    as rows; :math:`\tilde H` centres each column over the batch and then scales each row
    to unit length, as the official code does. The paper writes the plain squared Frobenius
    norm; the official code averages it over the :math:`d_c d_p` entries, and the paper's
    weights β = 0.05–0.075 go with that average. Zero when the two codes are orthogonal;
    unchanged when one example's code is scaled.
    """
    _check_codes(shared, private)
    _checks.number(eps, "eps", "difference_loss", low=0.0, low_open=True)

    def normalise(h: torch.Tensor) -> torch.Tensor:
        return F.normalize(h - h.mean(0, keepdim=True), dim=1, eps=eps)

    correlation = normalise(shared).T @ normalise(private)
    return correlation.pow(2).mean()


def scale_invariant_mse(reconstruction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    r"""Scale-invariant mean squared error (Eigen et al., NIPS 2014; DSN's reconstruction loss):

    .. math:: \mathcal{L}_{si\_mse}(x, \hat x) = \frac{1}{k}\|x - \hat x\|_2^2 - \frac{1}{k^2}\big((x - \hat x)\cdot \mathbf 1_k\big)^2

    per example (k = number of pixels × channels), averaged over the batch. It is the
    variance of the error over the pixels: a reconstruction off by a constant
    shift costs nothing, so the decoder spends its capacity on shape, not on the
    overall intensity. Both terms are needed: the second alone rewards a constant error.

    ``mask`` (broadcastable to the images, 0/1) restricts the error to chosen pixels, k still
    counting every pixel: PixelDA's masked pairwise MSE (Bousmalis et al., CVPR 2017, eq. 5), whose
    content-similarity term compares only the foreground of a source image with its rendering.
    """
    for name, t in (("reconstruction", reconstruction), ("target", target)):
        _checks.tensor(t, name, "scale_invariant_mse", what="a batch of images (N, ...)")
    if reconstruction.shape != target.shape:
        raise ValueError(f"scale_invariant_mse: reconstruction {tuple(reconstruction.shape)} and target "
                         f"{tuple(target.shape)} must have the same shape")
    if reconstruction.ndim < 2 or len(target) == 0:
        raise ValueError(f"scale_invariant_mse: expected a batch (N, ...) with N >= 1, got {tuple(target.shape)}")
    if mask is not None:
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"scale_invariant_mse: mask must be a tensor, got {type(mask).__name__}")
        try:
            broadcast = torch.broadcast_shapes(mask.shape, target.shape)
        except RuntimeError:
            broadcast = None
        if broadcast != target.shape:
            raise ValueError(f"scale_invariant_mse: mask of shape {tuple(mask.shape)} does not broadcast to the "
                             f"images' shape {tuple(target.shape)}")
    error = at_least_float32(target - reconstruction)
    if mask is not None:
        error = error * mask.to(error.dtype).expand_as(error)
    error = error.flatten(1)
    k = error.shape[1]
    return (error.pow(2).sum(1) / k - error.sum(1).pow(2) / k**2).mean()
