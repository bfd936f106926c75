r"""Discriminative learning rates: smaller steps for the general, early layers.

Layer :math:`l` of :math:`L` (0 = first) gets :math:`\eta_l = \eta \cdot d^{\,L-1-l}`,
so the last layer trains at :math:`\eta` and each earlier one :math:`d` times slower
(Howard & Ruder, ULMFiT, ACL 2018, use :math:`d = 1/2.6`).
"""
from __future__ import annotations

from torch import nn

from .layers import named_layers

__all__ = ["discriminative_param_groups"]


def discriminative_param_groups(model: nn.Module, lr: float, decay: float = 1 / 2.6) -> list[dict]:
    """One optimiser parameter group per layer with ``lr · decay^(L-1-l)``; frozen parameters are left out."""
    if lr <= 0 or not 0 < decay <= 1:
        raise ValueError(f"need lr > 0 and 0 < decay <= 1, got lr={lr}, decay={decay}")
    layers = named_layers(model)
    groups = []
    for index, (name, modules) in enumerate(layers):
        params = [p for m in modules for p in m.parameters() if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": lr * decay ** (len(layers) - 1 - index), "name": name})
    return groups
