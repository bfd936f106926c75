"""A classifier = backbone → optional bottleneck → fully connected head.

Every named layer's output is available from ``activations(x)``, so a method can
attach its adaptation loss to any of them by name (DAN adapts several at once).
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .. import _checks
from . import _args

__all__ = ["Classifier", "adaptation_classifier", "digit_classifier", "small_digit_classifier", "toy_classifier"]

_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def _block(in_features: int, out_features: int, batch_norm: bool, activation: str | None) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(in_features, out_features)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(out_features))
    if activation is not None:
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {sorted(_ACTIVATIONS)} or None")
        layers.append(_ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def _activation(value: object, name: str, where: str) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{where}: {name} must be one of {sorted(_ACTIVATIONS)} or None, got {_checks._got(value)}")
    if value is not None and value not in _ACTIVATIONS:
        raise ValueError(f"{where}: unknown activation {value!r} for {name}; choose from {sorted(_ACTIVATIONS)} or None")


class Classifier(nn.Module):
    """``backbone`` → [``bottleneck``] → ``fc1`` … ``fcK`` → ``logits``.

    - ``bottleneck``: width of an extra layer after the backbone (the DDC/DAN
      "adaptation layer"), with ``bottleneck_activation`` (``"relu"``,
      ``"sigmoid"`` for bounded features as CMD needs, ``"tanh"`` or ``None``).
    - ``hidden``: widths of the head's hidden layers; the DANN paper's label
      predictor is ``(100, 100)``.

    ``features(x)`` is the representation the head sees (the bottleneck when there
    is one) and ``head(features)`` the logits from it, so ``head(features(x)) == forward(x)``;
    ``activations(x)`` returns every named layer's output and ``width(name)`` its size.
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int,
        *,
        bottleneck: int | None = None,
        bottleneck_activation: str | None = "relu",
        hidden: tuple[int, ...] = (100, 100),
        batch_norm: bool = False,
    ):
        super().__init__()
        where = "Classifier"
        _checks.module(backbone, "backbone", where)
        _checks.integer(num_classes, "num_classes", where, minimum=2)
        if bottleneck is not None:
            _checks.integer(bottleneck, "bottleneck", where)
        _activation(bottleneck_activation, "bottleneck_activation", where)
        _args.widths(hidden, "hidden", where, empty=True)
        _args.flag(batch_norm, "batch_norm", where)
        width = getattr(backbone, "out_features", None)
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"{where}: backbone must expose its output width as a positive int attribute `out_features`, "
                             f"got {width!r}")
        self.backbone = backbone
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if bottleneck is not None:
            layers["bottleneck"] = _block(width, bottleneck, batch_norm, bottleneck_activation)
            width = bottleneck
        self.feature_dim = width
        for i, hidden_width in enumerate(hidden, start=1):
            layers[f"fc{i}"] = _block(width, hidden_width, batch_norm, "relu")
            width = hidden_width
        layers["logits"] = nn.Linear(width, num_classes)
        self.layers = nn.Sequential(layers)
        self.num_classes = num_classes

    @property
    def layer_names(self) -> list[str]:
        """Names accepted by ``activations``: ``"backbone"`` then each layer in order."""
        return ["backbone", *self.layers._modules]

    def width(self, layer: str) -> int:
        """The number of features ``activations(x)[layer]`` has per example."""
        if layer not in self.layer_names:
            raise ValueError(f"no layer named {layer!r} in the classifier; it has {self.layer_names}")
        if layer == "backbone":
            return self.backbone.out_features
        return [m for m in self.layers.get_submodule(layer).modules() if isinstance(m, nn.Linear)][-1].out_features

    def activations(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every named layer's output for ``x``, in forward order."""
        out = {"backbone": self.backbone(x)}
        h = out["backbone"]
        for name, layer in self.layers.named_children():
            h = out[name] = layer(h)
        return out

    def _has_bottleneck(self) -> bool:
        return "bottleneck" in self.layers._modules

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The input of the head: bottleneck output if any, else the backbone's."""
        h = self.backbone(x)
        return self.layers.bottleneck(h) if self._has_bottleneck() else h

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Class logits from ``features(x)``: the layers after the bottleneck."""
        if features.ndim != 2 or features.shape[1] != self.feature_dim:
            raise ValueError(f"head expects features of shape (N, {self.feature_dim}), got {tuple(features.shape)}")
        return self.layers[1:](features) if self._has_bottleneck() else self.layers(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.backbone(x))


def digit_classifier(
    in_channels: int = 3,
    image_size: int = 16,
    num_classes: int = 10,
    *,
    batch_norm: bool = False,
    widths: tuple[int, int] = (32, 48),
    **classifier_options,
) -> Classifier:
    """The DANN paper's digit network: ``DigitCNN`` + label head fc100-fc100-fc10.

    ``batch_norm=True`` is the variant with batch norm in the backbone and the head.
    Further keyword arguments go to ``Classifier`` (``bottleneck``, ``hidden``, ...).
    """
    from .digit_cnn import DigitCNN

    _checks.integer(num_classes, "num_classes", "digit_classifier", minimum=2)  # before the backbone is built

    backbone = DigitCNN(in_channels, image_size, widths=widths, batch_norm=batch_norm)
    return Classifier(backbone, num_classes, batch_norm=batch_norm, **classifier_options)


def adaptation_classifier(activation: str | None = "relu", num_classes: int = 10, image_size: int = 16) -> Classifier:
    """Chapter 0's digit network with a 64-unit bottleneck (``activation``) after the convolutions: the
    network of chapter 2's methods and of the benchmark (``image_size`` 28 or 32 for the real digit sets)."""
    _activation(activation, "activation", "adaptation_classifier")
    return digit_classifier(image_size=image_size, num_classes=num_classes, bottleneck=64, bottleneck_activation=activation)


def small_digit_classifier(num_classes: int = 10, **options) -> Classifier:
    """``digit_classifier`` with 16 and 32 channels (half of chapter 0's, for a CPU's time): the network of
    chapters 1, 3 and 4 and of the adaptation study. Keyword arguments as for ``digit_classifier``."""
    return digit_classifier(num_classes=num_classes, widths=(16, 32), **options)


def toy_classifier(num_classes: int = 2, hidden: tuple[int, ...] = (32, 32), **classifier_options) -> Classifier:
    """A small MLP classifier for 2-D points (the moons)."""
    from .mlp import MLP

    classifier_options.setdefault("hidden", ())
    return Classifier(MLP(2, hidden), num_classes, **classifier_options)
