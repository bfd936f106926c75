"""The contract every method follows, so that one ``fit`` loop can train all of them."""
from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn

from .. import _checks
from ..nn import Classifier

__all__ = ["Method", "Batch", "OptimizerFactory"]

#: ``(x, y)``; ``y`` is ``None`` for unlabelled data.
Batch = tuple[torch.Tensor, "torch.Tensor | None"]
OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


def _classifier(value: object, where: str) -> Classifier:
    """A network that names its layers, as ``tlbook.nn.Classifier`` does (``layer_names``, ``width``,
    ``activations``, ``num_classes``): what a method that reads inner layers needs."""
    _checks.module(value, "classifier", where, what="a tlbook.nn.Classifier")
    missing = [a for a in ("layer_names", "width", "activations", "num_classes") if not hasattr(value, a)]
    if missing:
        raise TypeError(f"{where}: classifier must be a tlbook.nn.Classifier (with layer_names, width, activations "
                        f"and num_classes), got a {type(value).__name__} without {', '.join(missing)}")
    return value


def _flag(value: object, name: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False, got {_checks._got(value)}")
    return value


def _weights(where: str, **weights: object) -> None:
    """Loss weights: finite, non-negative numbers."""
    for name, value in weights.items():
        _checks.number(value, name, where, low=0.0)


def _widths(value: object, name: str, where: str, *, length: int | None = None) -> tuple[int, ...]:
    """Layer widths: a tuple (or list) of positive integers, ``length`` of them when given."""
    if not isinstance(value, (tuple, list)) or (length is not None and len(value) != length):
        count = f"{length} " if length is not None else ""
        raise TypeError(f"{where}: {name} must be a tuple of {count}layer widths (positive integers), got {_checks._got(value)}")
    return tuple(_checks.integer(width, name, where) for width in value)


def _image_shape(value: object, where: str) -> tuple[int, int, int]:
    """``(channels, height, width)`` of square images, three positive integers."""
    channels, height, width = _widths(value, "image_shape", where, length=3)
    if height != width:
        raise ValueError(f"{where}: image_shape must describe square images (channels, size, size), got {tuple(value)}")
    return channels, height, width


def _is_stateful(value: object) -> bool:
    return (hasattr(value, "state_dict") and hasattr(value, "load_state_dict")
            and not isinstance(value, (nn.Module, torch.optim.Optimizer)))


class Method(nn.Module):
    """A transfer method: a classifier plus the loss it trains with.

    Subclasses implement ``loss``: from one source batch, one target batch and
    the training progress ``p`` in ``[0, 1]``, return the total loss and the named
    terms to log (detached scalars). ``fit`` does the rest.

    Class attributes:
    - ``uses_target_labels``: ``fit`` hands target labels only to methods that set
      it, so an unsupervised method cannot read them by accident.
    - ``uses_source_labels``: ``False`` for a method that learns from unlabelled images alone
      (a denoising autoencoder); its source batches then come as ``(x, None)``.
    - ``oracle``: the method trains on target labels; its numbers are an upper
      reference, never a result of adaptation.

    Methods with several optimisers (alternating updates) override
    ``configure_optimizers`` and ``training_step``.

    ``autocast`` (set by ``fit(..., amp=True)``) is a ``(device_type, dtype)`` pair: the
    loss's forward pass then runs under ``torch.autocast``; ``None`` means full precision.
    """

    uses_target_labels: bool = False
    uses_source_labels: bool = True
    oracle: bool = False
    autocast: tuple[str, torch.dtype] | None = None

    def __init__(self, classifier: Classifier):
        super().__init__()
        self.classifier = _checks.module(classifier, "classifier", type(self).__name__)

    def training_state(self) -> dict:
        """What training changes besides parameters and buffers: the ``state_dict`` of every attribute
        that has one and is not a module (e.g. SDT's sampler of labelled target examples). ``fit``
        checkpoints it with the weights, so a resumed run draws what an uninterrupted one would."""
        return {name: value.state_dict() for name, value in vars(self).items() if _is_stateful(value)}

    def load_training_state(self, state: dict) -> None:
        expected = set(self.training_state())
        if set(state) != expected:
            raise ValueError(f"{type(self).__name__}: the training state holds {sorted(state)}, expected {sorted(expected)}")
        for name, value in state.items():
            getattr(self, name).load_state_dict(value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits; what evaluation uses."""
        return self.classifier(x)

    def loss(self, source: Batch, target: Batch, progress: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def configure_optimizers(self, make: OptimizerFactory) -> list[torch.optim.Optimizer]:
        """One optimiser over every parameter by default."""
        return [make(self.parameters())]

    def training_step(self, source: Batch, target: Batch, progress: float, optimizers: list[torch.optim.Optimizer]) -> dict[str, torch.Tensor]:
        """One update; returns the detached terms to log."""
        (optimizer,) = optimizers
        with self.mixed_precision():
            total, terms = self.loss(source, target, progress)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        return {"loss": total.detach(), **terms}

    def mixed_precision(self) -> torch.autocast:
        """The autocast context of ``self.autocast`` (disabled when it is ``None``)."""
        if self.autocast is None:
            return torch.autocast("cpu", enabled=False)
        device_type, dtype = self.autocast
        return torch.autocast(device_type, dtype=dtype)
