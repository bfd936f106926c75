r"""Parameter-efficient fine-tuning: train a small number of new or chosen parameters.

- **BitFit** (Ben Zaken, Ravfogel & Goldberg, ACL 2022): train only the biases (and the new head).
- **LoRA** (Hu et al., ICLR 2022): keep a layer's weight :math:`W_0` frozen and learn a
  low-rank update, :math:`h = W_0 x + \frac{\alpha}{r} B A x` with
  :math:`A \in \mathbb{R}^{r \times d_{in}}`, :math:`B \in \mathbb{R}^{d_{out} \times r}`,
  :math:`B = 0` at the start so the adapted model begins exactly as the pre-trained one.
  For a convolution, :math:`A` is a convolution with the base kernel's size into
  :math:`r` channels and :math:`B` a 1×1 convolution back to the output channels.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from .. import _checks
from . import _args
from .layers import count_parameters, freeze, unfreeze

__all__ = ["LoRALinear", "LoRAConv2d", "add_lora", "bitfit"]


def _check_lora(where: str, base: object, kind: type, rank: object, alpha: object) -> None:
    """``base`` a ``kind`` layer, ``rank`` a positive integer, ``alpha`` positive and finite (or None)."""
    if not isinstance(base, kind):
        other = "LoRAConv2d for an nn.Conv2d" if isinstance(base, nn.Conv2d) else "LoRALinear for an nn.Linear"
        raise TypeError(f"{where}: base must be a torch.nn.{kind.__name__}, got {_checks._got(base)} "
                        f"(use {other}; add_lora wraps a whole model)")
    _checks.integer(rank, "rank", where)
    if alpha is not None:
        _checks.number(alpha, "alpha", where, low=0.0, low_open=True)


def _check_rank(rank: int, largest: int, where: str) -> None:
    if rank > largest:
        raise ValueError(f"{where}: LoRA rank must be between 1 and {largest} for this layer, got {rank}")


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable rank-``rank`` update scaled by ``alpha / rank``."""

    is_layer = True  # counts as one layer for tlbook.finetune.named_layers

    def __init__(self, base: nn.Linear, rank: int = 4, alpha: float | None = None):
        super().__init__()
        _check_lora("LoRALinear", base, nn.Linear, rank, alpha)
        _check_rank(rank, min(base.in_features, base.out_features), "LoRALinear")
        self.base, self.rank = base, rank
        self.scale = (alpha if alpha is not None else rank) / rank
        freeze([base])
        like = dict(device=base.weight.device, dtype=base.weight.dtype)  # a float64 layer gets float64 factors
        self.A = nn.Parameter(torch.empty(rank, base.in_features, **like))
        self.B = nn.Parameter(torch.zeros(base.out_features, rank, **like))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))  # as nn.Linear initialises its weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T


class LoRAConv2d(nn.Module):
    """A frozen ``nn.Conv2d`` plus ``B(A(x))``: ``A`` a conv with the base's kernel into
    ``rank`` channels, ``B`` a 1×1 conv (zeros at the start) back to the output channels."""

    is_layer = True

    def __init__(self, base: nn.Conv2d, rank: int = 4, alpha: float | None = None):
        super().__init__()
        _check_lora("LoRAConv2d", base, nn.Conv2d, rank, alpha)
        if base.groups != 1:
            raise ValueError(f"LoRAConv2d: base must be an ordinary convolution (groups=1), got groups={base.groups}")
        _check_rank(rank, _conv_rank(base), "LoRAConv2d")
        self.base, self.rank = base, rank
        self.scale = (alpha if alpha is not None else rank) / rank
        freeze([base])
        like = dict(device=base.weight.device, dtype=base.weight.dtype)
        self.A = nn.Conv2d(base.in_channels, rank, base.kernel_size, base.stride, base.padding, base.dilation,
                           bias=False, **like)
        self.B = nn.Conv2d(rank, base.out_channels, 1, bias=False, **like)
        nn.init.zeros_(self.B.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * self.B(self.A(x))


def _conv_rank(conv: nn.Conv2d) -> int:
    """The largest rank of a convolution's update: min(inputs per output, outputs)."""
    return min(conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1], conv.out_channels)


def _check_module_names(model: object, keep: object, where: str) -> list[str]:
    """``model`` a module; ``keep`` names modules of it (a string is one name, not a list of letters)."""
    _checks.module(model, "model", where)
    if isinstance(keep, str):
        raise TypeError(f"{where}: keep must be a list of module names, got the string {keep!r}: write keep=[{keep!r}]")
    keep = _args.names(keep, "keep", where)
    names = {name for name, _ in model.named_modules()}
    unknown = [k for k in keep if k not in names]
    if unknown:
        heads = [name for name in names if name.count(".") <= 1 and name]
        raise ValueError(f"{where}: keep: no module named {unknown} in the model; its modules include {sorted(heads)[:12]}")
    return keep


def add_lora(model: nn.Module, rank: int = 4, alpha: float | None = None, keep: Sequence[str] = ()) -> int:
    """Freeze ``model`` and wrap every ``Linear``/``Conv2d`` in a LoRA layer, in place.

    Modules whose name starts with one of ``keep`` (e.g. the new head ``"layers.logits"``)
    are left fully trainable instead. ``rank`` is capped at each layer's largest possible
    rank (a 3-input convolution with 5×5 kernels allows 75). Returns the number of
    trainable parameters.
    """
    where = "add_lora"
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"{where}: rank must be a positive integer, got {rank!r}")
    if alpha is not None:
        _checks.number(alpha, "alpha", where, low=0.0, low_open=True)
    keep = _check_module_names(model, keep, where)

    def is_kept(name: str) -> bool:
        return any(name == k or name.startswith(k + ".") for k in keep)

    # Everything is checked before the model is changed: a refusal leaves it as it was.
    if any(isinstance(m, (LoRALinear, LoRAConv2d)) for m in model.modules()):
        raise ValueError(f"{where}: model already has LoRA layers (add_lora was called on it before)")
    targets = [(module, child_name, child) for name, module in model.named_modules()
               for child_name, child in module.named_children()
               if type(child) in (nn.Linear, nn.Conv2d) and not is_kept(f"{name}.{child_name}" if name else child_name)]
    grouped = [child for _, _, child in targets if type(child) is nn.Conv2d and child.groups != 1]
    if grouped:
        raise ValueError(f"{where}: model has a grouped convolution ({grouped[0]}), which LoRA does not adapt; "
                         "name it in keep to train it fully")
    if not targets:
        raise ValueError(f"{where}: model has no nn.Linear or nn.Conv2d layer to adapt (outside keep={keep})")
    kept = [m for name, m in model.named_modules() if is_kept(name)]
    freeze([model])
    for module, child_name, child in targets:
        if type(child) is nn.Linear:
            setattr(module, child_name, LoRALinear(child, min(rank, child.in_features, child.out_features), alpha))
        else:
            setattr(module, child_name, LoRAConv2d(child, min(rank, _conv_rank(child)), alpha))
    unfreeze(kept)
    return count_parameters(model)


def bitfit(model: nn.Module, keep: Sequence[str] = ()) -> int:
    """Freeze every weight except the biases (and the modules named in ``keep``, e.g. the new head).

    Batch-norm layers keep training their shift (a bias) but normalise with their stored
    statistics. Returns the number of trainable parameters.
    """
    keep = _check_module_names(model, keep, "bitfit")
    kept = [m for name, m in model.named_modules() if name in keep]
    freeze([model])
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            p.requires_grad_(True)
    unfreeze(kept)
    return count_parameters(model)

