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

from .layers import count_parameters, freeze, unfreeze

__all__ = ["LoRALinear", "LoRAConv2d", "add_lora", "bitfit"]


def _check_rank(rank: int, largest: int) -> None:
    if not 1 <= rank <= largest:
        raise ValueError(f"LoRA rank must be between 1 and {largest} for this layer, got {rank}")


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable rank-``rank`` update scaled by ``alpha / rank``."""

    is_layer = True  # counts as one layer for tlbook.finetune.named_layers

    def __init__(self, base: nn.Linear, rank: int = 4, alpha: float | None = None):
        super().__init__()
        _check_rank(rank, min(base.in_features, base.out_features))
        self.base, self.rank = base, rank
        self.scale = (alpha if alpha is not None else rank) / rank
        freeze([base])
        self.A = nn.Parameter(torch.empty(rank, base.in_features, device=base.weight.device))
        self.B = nn.Parameter(torch.zeros(base.out_features, rank, device=base.weight.device))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))  # as nn.Linear initialises its weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T


class LoRAConv2d(nn.Module):
    """A frozen ``nn.Conv2d`` plus ``B(A(x))``: ``A`` a conv with the base's kernel into
    ``rank`` channels, ``B`` a 1×1 conv (zeros at the start) back to the output channels."""

    is_layer = True

    def __init__(self, base: nn.Conv2d, rank: int = 4, alpha: float | None = None):
        super().__init__()
        if base.groups != 1:
            raise ValueError("LoRAConv2d supports ordinary convolutions (groups=1) only")
        _check_rank(rank, min(base.in_channels * base.kernel_size[0] * base.kernel_size[1], base.out_channels))
        self.base, self.rank = base, rank
        self.scale = (alpha if alpha is not None else rank) / rank
        freeze([base])
        self.A = nn.Conv2d(base.in_channels, rank, base.kernel_size, base.stride, base.padding, base.dilation,
                           bias=False, device=base.weight.device)
        self.B = nn.Conv2d(rank, base.out_channels, 1, bias=False, device=base.weight.device)
        nn.init.zeros_(self.B.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * self.B(self.A(x))


def _check_module_names(model: nn.Module, keep: Sequence[str]) -> None:
    """``keep`` must name modules of ``model`` (a string is one name, not a list of letters)."""
    if isinstance(keep, str):
        raise TypeError(f"keep must be a list of module names, got the string {keep!r}: write keep=[{keep!r}]")
    names = {name for name, _ in model.named_modules()}
    unknown = [k for k in keep if k not in names]
    if unknown:
        heads = [name for name in names if name.count(".") <= 1 and name]
        raise KeyError(f"no module named {unknown} in the model; its modules include {sorted(heads)[:12]}")


def add_lora(model: nn.Module, rank: int = 4, alpha: float | None = None, keep: Sequence[str] = ()) -> int:
    """Freeze ``model`` and wrap every ``Linear``/``Conv2d`` in a LoRA layer, in place.

    Modules whose name starts with one of ``keep`` (e.g. the new head ``"layers.logits"``)
    are left fully trainable instead. ``rank`` is capped at each layer's largest possible
    rank (a 3-input convolution with 5×5 kernels allows 75). Returns the number of
    trainable parameters.
    """
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"rank must be a positive integer, got {rank!r}")
    if alpha is not None and not alpha > 0:
        raise ValueError(f"alpha must be positive (or None for alpha = rank), got {alpha!r}")
    _check_module_names(model, keep)

    def is_kept(name: str) -> bool:
        return any(name == k or name.startswith(k + ".") for k in keep)

    kept = [m for name, m in model.named_modules() if is_kept(name)]
    freeze([model])
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if is_kept(f"{name}.{child_name}" if name else child_name):
                continue
            if type(child) is nn.Linear:
                setattr(module, child_name, LoRALinear(child, min(rank, child.in_features, child.out_features), alpha))
            elif type(child) is nn.Conv2d:
                largest = min(child.in_channels * child.kernel_size[0] * child.kernel_size[1], child.out_channels)
                setattr(module, child_name, LoRAConv2d(child, min(rank, largest), alpha))
    unfreeze(kept)
    return count_parameters(model)


def bitfit(model: nn.Module, keep: Sequence[str] = ()) -> int:
    """Freeze every weight except the biases (and the modules named in ``keep``, e.g. the new head).

    Batch-norm layers keep training their shift (a bias) but normalise with their stored
    statistics. Returns the number of trainable parameters.
    """
    _check_module_names(model, keep)
    kept = [m for name, m in model.named_modules() if name in keep]
    freeze([model])
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            p.requires_grad_(True)
    unfreeze(kept)
    return count_parameters(model)

