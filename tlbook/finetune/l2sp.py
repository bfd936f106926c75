r"""L2-SP: keep the transferred weights close to their pre-trained values.

Li, Grandvalet & Davoine (ICML 2018):

.. math::

    \Omega(w) = \frac{\alpha}{2}\,\lVert w_S - w_S^0 \rVert_2^2 + \frac{\beta}{2}\,\lVert w_{\bar S} \rVert_2^2

:math:`w_S` are the parameters transferred from the source model, :math:`w_S^0` their
pre-trained values (a frozen copy), :math:`w_{\bar S}` the new ones (the head). Plain
L2 ("weight decay") is the special case :math:`w_S^0 = 0`: it pulls the transferred
weights towards zero, i.e. away from what was learnt. The optimiser's own weight decay
must be off for every parameter this term covers, or they are penalised twice.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .. import _checks
from . import _args

__all__ = ["L2SP", "weight_distance"]


class L2SP(nn.Module):
    """``L2SP(model, alpha, beta, new=["layers.logits"])(model)`` → the penalty Ω.

    ``new`` lists name prefixes of the parameters that are *not* transferred (the new
    head); they get plain L2 with ``beta``. Every other trainable parameter is
    transferred and is pulled towards a copy of its value at construction time.
    ``reference="zero"`` gives plain L2 on everything (the usual weight decay) for comparison.
    """

    def __init__(self, model: nn.Module, alpha: float, beta: float = 0.0, new: Sequence[str] = (),
                 reference: str = "pretrained"):
        super().__init__()
        where = "L2SP"
        _checks.module(model, "model", where)
        _checks.number(alpha, "alpha", where, low=0.0)
        _checks.number(beta, "beta", where, low=0.0)
        _checks.choice(reference, "reference", where, ("pretrained", "zero"))
        new = _args.names(new, "new", where)
        names = [n for n, p in model.named_parameters() if p.requires_grad]
        unknown = [prefix for prefix in new if not any(n.startswith(prefix) for n in names)]
        if unknown:
            raise ValueError(f"{where}: new must hold prefixes of trainable parameter names; no trainable parameter "
                             f"starts with {unknown} (they include {names[:6]})")
        self.alpha, self.beta, self.reference = alpha, beta, reference
        self.new = [n for n in names if any(n.startswith(prefix) for prefix in new)]
        self.transferred = [n for n in names if n not in self.new]
        # Detached clones (none for plain L2, whose reference is zero): training never moves them. As
        # buffers they move with .to(device) and are part of state_dict, so a checkpoint keeps them.
        self.anchor_buffers = {}
        if reference == "pretrained":
            for i, (n, p) in enumerate((n, p) for n, p in model.named_parameters() if n in self.transferred):
                self.register_buffer(f"anchor_{i}", p.detach().clone())
                self.anchor_buffers[n] = f"anchor_{i}"

    @property
    def anchors(self) -> dict[str, torch.Tensor]:
        """The reference value of each transferred parameter, by parameter name (empty for plain L2)."""
        return {n: getattr(self, buffer) for n, buffer in self.anchor_buffers.items()}

    def covered(self) -> list[str]:
        """Names of every parameter the penalty acts on (turn the optimiser's weight decay off for them)."""
        return self.transferred + self.new

    def forward(self, model: nn.Module) -> torch.Tensor:
        params = dict(_checks.module(model, "model", "L2SP").named_parameters())
        missing = [n for n in self.transferred + self.new if n not in params]
        if missing:
            raise ValueError(f"L2SP: model lacks parameters {missing[:3]}, which L2SP was built for: build L2SP "
                             "from this model")
        anchors = self.anchors
        for n, anchor in anchors.items():
            if params[n].shape != anchor.shape:
                raise ValueError(f"L2SP: the model's parameter {n!r} has shape {tuple(params[n].shape)}, but L2SP's "
                                 f"reference for it has shape {tuple(anchor.shape)}: build L2SP from this model")
        zero = next(iter(params.values())).new_zeros(())
        pull = zero + sum(((params[n] - anchors[n].to(params[n].device) if anchors else params[n]) ** 2).sum()
                          for n in self.transferred)
        head = zero + sum((params[n] ** 2).sum() for n in self.new)
        return 0.5 * self.alpha * pull + 0.5 * self.beta * head


def weight_distance(model: nn.Module, reference: nn.Module, prefixes: Sequence[str] | None = None) -> float:
    r""":math:`\lVert w - w^0 \rVert_2` over the parameters the two models share (optionally only names with ``prefixes``)."""
    where = "weight_distance"
    mine = dict(_checks.module(model, "model", where).named_parameters())
    theirs = dict(_checks.module(reference, "reference", where).named_parameters())
    shared = [name for name in mine if name in theirs]
    if not shared:
        raise ValueError(f"{where}: model and reference share no parameter name (the model's include "
                         f"{list(mine)[:3]}, the reference's {list(theirs)[:3]}): compare a model with a copy of itself")
    if prefixes is not None:
        prefixes = _args.names(prefixes, "prefixes", where)
        if not prefixes:
            raise ValueError(f"{where}: prefixes must hold at least one prefix (None: every shared parameter), got []")
        unknown = [x for x in prefixes if not any(name.startswith(x) for name in shared)]
        if unknown:
            raise ValueError(f"{where}: prefixes {unknown} start no parameter name the two models share "
                             f"(they include {shared[:6]})")
    total = 0.0
    for name, p in mine.items():
        if name in theirs and (prefixes is None or any(name.startswith(x) for x in prefixes)):
            if p.shape != theirs[name].shape:
                raise ValueError(f"{where}: parameter {name!r} has shape {tuple(p.shape)} in the model and "
                                 f"{tuple(theirs[name].shape)} in the reference: they are not the same architecture")
            total += float(((p.detach() - theirs[name].detach().to(p.device)) ** 2).sum())
    return total ** 0.5
