"""Layers of a network in forward order, and freezing them.

Transfer methods speak of "the first n layers": here a *layer* is a leaf module with
weights (``Conv*``, ``Linear``, recurrent layers, ``Embedding``); a normalisation
layer (batch norm, layer norm) belongs to the layer before it, so freezing a
convolution freezes its batch norm too.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Sequence

import torch
from torch import nn

from .. import _checks
from . import _args

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
    return _named_layers(model, "model", "named_layers")


def _named_layers(model: object, name: str, where: str) -> list[tuple[str, list[nn.Module]]]:
    """``named_layers`` of the argument ``name`` of ``where``: a module with at least one weighted layer."""
    _checks.module(model, name, where)
    layers: list[tuple[str, list[nn.Module]]] = []
    for module_name, module in model.named_modules():
        if layers and module_name.startswith(layers[-1][0] + "."):
            continue  # a child of the last layer
        if isinstance(module, _WEIGHTED) or getattr(module, "is_layer", False):
            layers.append((module_name, [module]))
        elif isinstance(module, _NORMS) and layers:
            layers[-1][1].append(module)
    if not layers:
        raise ValueError(f"{where}: {name} must have layers with weights (Conv, Linear, RNN, Embedding), "
                         f"got a {type(model).__name__} with none")
    return layers


def layer_names(model: nn.Module) -> list[str]:
    """The names of ``named_layers(model)``, first to last."""
    return [name for name, _ in _named_layers(model, "model", "layer_names")]


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


def _modules(modules: object, where: str) -> list[nn.Module]:
    """A module or an iterable of modules, as a list (a generator is read once, here)."""
    if isinstance(modules, nn.Module):
        return [modules]
    if isinstance(modules, (str, bytes, torch.Tensor)) or not isinstance(modules, Iterable):
        raise TypeError(f"{where}: modules must be a module or a list of modules, got {_checks._got(modules)}")
    modules = list(modules)
    wrong = [i for i, m in enumerate(modules) if not isinstance(m, nn.Module)]
    if wrong:
        raise TypeError(f"{where}: modules must hold torch.nn.Module objects only, got "
                        f"{_checks._got(modules[wrong[0]])} at position {wrong[0]}")
    return modules


def freeze(modules: Iterable[nn.Module] | nn.Module) -> None:
    """Stop training ``modules`` (a module or several): no gradients, and batch norm kept in eval mode.

    A frozen batch-norm layer normalises with its stored (pre-trained)
    statistics and never updates them, even while the rest of the model is in train mode:
    ``model.train()`` leaves it in eval mode (its class becomes ``FrozenBatchNorm2d`` etc.).
    """
    subs = [sub for module in _modules(modules, "freeze") for sub in module.modules()]
    unsupported = {type(sub).__name__ for sub in subs if isinstance(sub, nn.modules.batchnorm._BatchNorm)
                   and type(sub) not in _THAWED and type(sub) not in _FROZEN}
    if unsupported:  # refused before anything is frozen
        raise TypeError(f"freeze keeps BatchNorm1d/2d/3d in eval mode; {', '.join(sorted(unsupported))} is not supported")
    for sub in subs:
        for p in sub.parameters(recurse=False):
            p.requires_grad_(False)
        if type(sub) in _FROZEN:
            sub.__class__ = _FROZEN[type(sub)]
            nn.Module.train(sub, False)


def unfreeze(modules: Iterable[nn.Module] | nn.Module) -> None:
    """Undo ``freeze``: gradients on, batch norm follows ``model.train()/eval()`` again."""
    for module in _modules(modules, "unfreeze"):
        for sub in module.modules():
            for p in sub.parameters(recurse=False):
                p.requires_grad_(True)
            if type(sub) in _THAWED:
                sub.__class__ = _THAWED[type(sub)]


def _select(named: list[tuple[str, list[nn.Module]]], layers: object, where: str) -> list[tuple[str, list[nn.Module]]]:
    """The first ``layers`` of ``named`` (an integer in [0, len(named)]) or the ones it names."""
    known = [name for name, _ in named]
    if isinstance(layers, str):
        raise TypeError(f"{where}: layers must be a number of layers or a list of layer names, got the string "
                        f"{layers!r}: write layers=[{layers!r}]")
    if isinstance(layers, Iterable) and not isinstance(layers, (bytes, torch.Tensor)):
        chosen = _args.names(layers, "layers", where)
        unknown = [name for name in chosen if name not in known]
        if unknown:
            raise ValueError(f"{where}: layers: no layer named {unknown}; the model's layers are {known}")
        return [(name, mods) for name, mods in named if name in chosen]
    count = _checks.integer(layers, "layers", where, minimum=0)
    if count > len(named):
        raise ValueError(f"{where}: layers must be an integer in [0, {len(named)}] (the model has {len(named)} layers), "
                         f"got {count}")
    return named[:count]


def freeze_layers(model: nn.Module, layers: int | Sequence[str]) -> list[str]:
    """Freeze the first ``layers`` layers (an int) or the named ones; returns their names."""
    chosen = _select(_named_layers(model, "model", "freeze_layers"), layers, "freeze_layers")
    freeze([m for _, mods in chosen for m in mods])
    return [name for name, _ in chosen]


def frozen_layer_names(model: nn.Module) -> list[str]:
    """Names of the layers whose weights are all frozen."""
    return [name for name, mods in _named_layers(model, "model", "frozen_layer_names")
            if all(not p.requires_grad for m in mods for p in m.parameters())]


def count_parameters(model: nn.Module, trainable: bool = True) -> int:
    """Number of (trainable, by default) parameters."""
    _checks.module(model, "model", "count_parameters")
    _args.flag(trainable, "trainable", "count_parameters")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


def transfer_layers(pretrained: nn.Module, fresh: nn.Module, layers: int | Sequence[str]) -> nn.Module:
    """A copy of ``fresh`` whose first ``layers`` layers (or the named ones) hold ``pretrained``'s
    weights and batch-norm statistics; every other layer keeps ``fresh``'s initialisation.

    The two models must have the same architecture for the transferred layers: the same modules
    (a batch norm in one and not in the other is refused), parameters and buffers of the same shapes.
    """
    where = "transfer_layers"
    source = dict(_named_layers(pretrained, "pretrained", where))
    chosen = _select(_named_layers(fresh, "fresh", where), layers, where)
    for name, mods in chosen:  # everything is checked before anything is copied
        if name not in source:
            raise ValueError(f"{where}: pretrained has no layer {name!r} to transfer into fresh; "
                             f"its layers are {list(source)}")
        kinds = [type(m).__name__ for m in mods], [type(m).__name__ for m in source[name]]
        if [_THAWED.get(type(m), type(m)) for m in mods] != [_THAWED.get(type(m), type(m)) for m in source[name]]:
            raise ValueError(f"{where}: layer {name!r} is {kinds[1]} in pretrained but {kinds[0]} in fresh: "
                             "the two models differ in architecture")
        for mine, theirs in zip(mods, source[name]):
            ours, their_state = mine.state_dict(), theirs.state_dict()
            for key in sorted(set(ours) | set(their_state)):
                shapes = [tuple(s[key].shape) if key in s else "missing" for s in (their_state, ours)]
                if shapes[0] != shapes[1]:
                    raise ValueError(f"{where}: layer {name!r} differs in shape between the two models: its "
                                     f"{key!r} is {shapes[0]} in pretrained and {shapes[1]} in fresh")
    model = copy.deepcopy(fresh)
    named = dict(named_layers(model))
    for name, _ in chosen:
        for mine, theirs in zip(named[name], source[name]):
            mine.load_state_dict(theirs.state_dict())
    return model
