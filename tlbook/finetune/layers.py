"""Layers of a network in forward order, and freezing them.

Transfer methods speak of "the first n layers": here a *layer* is a leaf module with
weights (``Conv*``, ``Linear``, recurrent layers, ``Embedding``); a normalisation
layer (batch norm, layer norm) belongs to the layer before it, so freezing a
convolution freezes its batch norm too.
"""
from __future__ import annotations

import copy
from typing import Iterable, Sequence

import torch
from torch import nn

__all__ = ["named_layers", "layer_names", "freeze", "unfreeze", "freeze_layers", "count_parameters",
           "transfer_layers", "frozen_layer_names"]

_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Linear, nn.RNNBase, nn.Embedding)
_NORMS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)


def named_layers(model: nn.Module) -> list[tuple[str, list[nn.Module]]]:
    """``[(name, [module, its norm layers...]), ...]`` in registration (= forward) order.

    A layer is named after its weighted module (``"backbone.layers.0"``,
    ``"layers.fc1.0"``, ...). Modules inside an already counted layer (e.g. LoRA's
    low-rank factors) are skipped.
    """
    layers: list[tuple[str, list[nn.Module]]] = []
    for name, module in model.named_modules():
        if layers and name.startswith(layers[-1][0] + "."):
            continue  # a child of the last layer
        if isinstance(module, _WEIGHTED) or getattr(module, "is_layer", False):
            layers.append((name, [module]))
        elif isinstance(module, _NORMS) and layers:
            layers[-1][1].append(module)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no layers with weights (Conv, Linear, RNN, Embedding)")
    return layers


def layer_names(model: nn.Module) -> list[str]:
    """The names of ``named_layers(model)``, first to last."""
    return [name for name, _ in named_layers(model)]


class _StaysInEval:
    """Mixed into a frozen batch-norm layer's class: ``train()`` leaves it in eval mode. A class, not a
    patched instance method, so that a whole frozen model still pickles (``torch.save(model)``)."""

    def train(self, mode: bool = True):
        return super().train(False)


class FrozenBatchNorm1d(_StaysInEval, nn.BatchNorm1d):
    """A ``BatchNorm1d`` that ``freeze`` keeps in eval mode."""


class FrozenBatchNorm2d(_StaysInEval, nn.BatchNorm2d):
    """A ``BatchNorm2d`` that ``freeze`` keeps in eval mode."""


class FrozenBatchNorm3d(_StaysInEval, nn.BatchNorm3d):
    """A ``BatchNorm3d`` that ``freeze`` keeps in eval mode."""


_FROZEN = {nn.BatchNorm1d: FrozenBatchNorm1d, nn.BatchNorm2d: FrozenBatchNorm2d, nn.BatchNorm3d: FrozenBatchNorm3d}
_THAWED = {frozen: plain for plain, frozen in _FROZEN.items()}


def freeze(modules: Iterable[nn.Module]) -> None:
    """Stop training ``modules``: no gradients, and batch norm kept in eval mode.

    A frozen batch-norm layer normalises with its stored (pre-trained) statistics
    and never updates them, even while the rest of the model is in train mode:
    ``model.train()`` leaves it in eval mode (its class becomes ``FrozenBatchNorm2d`` etc.).
    """
    for module in modules:
        for sub in module.modules():
            for p in sub.parameters(recurse=False):
                p.requires_grad_(False)
            if isinstance(sub, nn.modules.batchnorm._BatchNorm) and type(sub) not in _THAWED:
                if type(sub) not in _FROZEN:
                    raise TypeError(f"freeze keeps BatchNorm1d/2d/3d in eval mode; {type(sub).__name__} is not supported")
                sub.__class__ = _FROZEN[type(sub)]
                nn.Module.train(sub, False)


def unfreeze(modules: Iterable[nn.Module]) -> None:
    """Undo ``freeze``: gradients on, batch norm follows ``model.train()/eval()`` again."""
    for module in modules:
        for sub in module.modules():
            for p in sub.parameters(recurse=False):
                p.requires_grad_(True)
            if type(sub) in _THAWED:
                sub.__class__ = _THAWED[type(sub)]


def _select(model: nn.Module, layers: int | Sequence[str]) -> list[tuple[str, list[nn.Module]]]:
    named = named_layers(model)
    if isinstance(layers, int):
        if not 0 <= layers <= len(named):
            raise ValueError(f"the model has {len(named)} layers; cannot select the first {layers}")
        return named[:layers]
    known = {name for name, _ in named}
    unknown = [name for name in layers if name not in known]
    if unknown:
        raise KeyError(f"no layer named {unknown}; layers are {[n for n, _ in named]}")
    return [(name, mods) for name, mods in named if name in layers]


def freeze_layers(model: nn.Module, layers: int | Sequence[str]) -> list[str]:
    """Freeze the first ``layers`` layers (an int) or the named ones; returns their names."""
    chosen = _select(model, layers)
    freeze(m for _, mods in chosen for m in mods)
    return [name for name, _ in chosen]


def frozen_layer_names(model: nn.Module) -> list[str]:
    """Names of the layers whose weights are all frozen."""
    return [name for name, mods in named_layers(model)
            if all(not p.requires_grad for m in mods for p in m.parameters())]


def count_parameters(model: nn.Module, trainable: bool = True) -> int:
    """Number of (trainable, by default) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


def transfer_layers(pretrained: nn.Module, fresh: nn.Module, layers: int | Sequence[str]) -> nn.Module:
    """A copy of ``fresh`` whose first ``layers`` layers (or the named ones) hold ``pretrained``'s
    weights and batch-norm statistics; every other layer keeps ``fresh``'s initialisation.

    The two models must have the same architecture for the transferred layers.
    """
    model = copy.deepcopy(fresh)
    source = dict(named_layers(pretrained))
    for name, mods in _select(model, layers):
        if name not in source:
            raise KeyError(f"the pre-trained model has no layer {name!r}")
        for mine, theirs in zip(mods, source[name]):
            try:
                mine.load_state_dict(theirs.state_dict())
            except RuntimeError as error:
                raise ValueError(f"layer {name!r} differs in shape between the two models: {error}") from None
    return model

