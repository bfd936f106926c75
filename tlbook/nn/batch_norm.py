"""Batch-norm statistics per domain: the mechanism behind AdaBN and domain-specific batch norm.

A batch-norm layer normalises with the current batch's statistics in training and with running
averages at test time. When source and target batches pass through the network separately, each
is normalised with its own domain's statistics in training; the running averages then decide which
domain the network is normalised for at test time. ``running_stats_frozen`` lets a pass use its
batch's statistics without moving the running averages, so those can follow the target alone:
AdaBN (Li et al., "Revisiting batch normalization for practical domain adaptation", 2016).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import ContextManager, Iterator

from torch import nn

from .. import _checks

__all__ = ["batch_norm_layers", "running_stats_frozen"]


def batch_norm_layers(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """Every batch-norm layer of ``module`` (1-D, 2-D or 3-D)."""
    _checks.module(module, "module", "batch_norm_layers")
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def running_stats_frozen(module: nn.Module) -> ContextManager[None]:
    """Inside the block, batch-norm layers normalise with the batch's statistics (in training mode)
    but leave their running mean and variance as they are (``module`` is checked at the call, not at ``with``)."""
    _checks.module(module, "module", "running_stats_frozen")
    return _frozen(module)


@contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    layers = [m for m in batch_norm_layers(module) if m.track_running_stats]
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in layers]
    try:
        for m in layers:
            m.momentum = 0.0  # running = (1 - 0) · running + 0 · batch
        yield
    finally:
        for m, (momentum, tracked) in zip(layers, saved):
            m.momentum = momentum
            m.num_batches_tracked.copy_(tracked)
