r"""Discriminative learning rates: smaller steps for the general, early layers.

Layer :math:`l` of :math:`L` (0 = first) gets :math:`\eta_l = \eta \cdot d^{\,L-1-l}`,
so the last layer trains at :math:`\eta` and each earlier one :math:`d` times slower
(Howard & Ruder, ULMFiT, ACL 2018, use :math:`d = 1/2.6`).
"""
from __future__ import annotations

from torch import nn

from .. import _checks
from .layers import _named_layers

__all__ = ["discriminative_param_groups"]


def discriminative_param_groups(model: nn.Module, lr: float, decay: float = 1 / 2.6) -> list[dict]:
    """One optimiser parameter group per layer with ``lr · decay^(L-1-l)``; frozen parameters are left out."""
    where = "discriminative_param_groups"
    _checks.number(lr, "lr", where, low=0.0, low_open=True)
    _checks.number(decay, "decay", where, low=0.0, high=1.0, low_open=True)
    layers = _named_layers(model, "model", where)
    groups = []
    for index, (name, modules) in enumerate(layers):
        params = [p for m in modules for p in m.parameters() if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": lr * decay ** (len(layers) - 1 - index), "name": name})
    return groups
