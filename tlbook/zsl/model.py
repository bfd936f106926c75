"""The attribute-embedding model: an image embedding f and a class embedding g, scored by f(x)·g(y)."""
from __future__ import annotations

import torch
from torch import nn

from .. import _checks
from ..losses.zsl import VIOLATORS, attribute_hinge
from .data import _attribute_matrix

__all__ = ["AttributeEmbedding", "signatures"]

CLASS_ENCODERS = ("identity", "linear", "mlp")


def signatures(attributes: torch.Tensor) -> torch.Tensor:
    """Class attribute vectors in [0, 1] → ±1 codes with unit L2 norm, one row per class.

    Mapping 0 to −1 lets an absent attribute count against a class (a plain 0 would ignore it);
    the unit norm keeps classes with many attributes from winning every comparison
    (Akata et al., TPAMI 2016, normalise ALE's attribute vectors the same way). Train and test
    must use the same normalisation, so the models call this themselves.
    """
    return _codes(_attribute_matrix(attributes, "attributes", "signatures"))


def _codes(attributes: torch.Tensor) -> torch.Tensor:
    """``signatures`` without the scan of the values: the models' path, run at every step."""
    return nn.functional.normalize(2 * attributes.float() - 1, dim=1)


def _encoder(value: object, where: str) -> nn.Module:
    """An image encoder that states the width of its features as an int ``out_features``, as ``DigitCNN`` does."""
    _checks.module(value, "encoder", where, what="an image encoder (a torch.nn.Module)")
    width = getattr(value, "out_features", None)
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise TypeError(f"{where}: encoder must state its feature width as a positive int attribute out_features "
                        f"(as DigitCNN does), got {type(value).__name__} with out_features={width!r}")
    return value


def _class_rows(attributes: object, num_attributes: int, where: str) -> torch.Tensor:
    """The attribute matrix a model scores against: (C, num_attributes); shapes only (the training path)."""
    _attribute_matrix(attributes, "attributes", where, scan=False)
    if attributes.shape[1] != num_attributes:
        raise ValueError(f"{where}: attributes must have {num_attributes} columns, one per attribute the model was "
                         f"built for, got shape {tuple(attributes.shape)}")
    return attributes


class AttributeEmbedding(nn.Module):
    r"""Attribute embedding for zero-shot learning, trained with the ranking hinge.

    .. math:: s(x, y) = f(x)^\top g(a_y), \qquad \hat y = \arg\max_{y \in \mathcal{Y}} s(x, y)

    f = a linear layer on ``encoder``'s features; g = ``class_encoder`` on the class's
    attribute signature: ``"identity"`` (f regresses the attributes, as in DeViSE with fixed
    class vectors), ``"linear"`` (a learnt bilinear compatibility, as ALE/SJE) or ``"mlp"``.
    f and g are trained jointly, on seen classes only, by :func:`tlbook.losses.attribute_hinge`
    with margin ``margin``; any candidate set is scored at test time, unseen classes included.
    ``cosine_scale`` = t scores t·cos(f(x), g(y)) instead: every model then scores on the same
    bounded scale, which lets a calibration chosen on a validation model carry over.
    """

    def __init__(self, encoder: nn.Module, num_attributes: int, *, class_encoder: str = "linear",
                 embed_dim: int | None = None, margin: float = 1.0, violators: str = "max",
                 cosine_scale: float | None = None):
        super().__init__()
        where = "AttributeEmbedding"
        _encoder(encoder, where)
        num_attributes = _checks.integer(num_attributes, "num_attributes", where)
        _checks.choice(class_encoder, "class_encoder", where, CLASS_ENCODERS)
        embed_dim = num_attributes if embed_dim is None else _checks.integer(embed_dim, "embed_dim", where)
        if class_encoder == "identity" and embed_dim != num_attributes:
            raise ValueError(f"{where}: class_encoder='identity' needs embed_dim == num_attributes ({num_attributes}), "
                             f"got {embed_dim}")
        _checks.number(margin, "margin", where, low=0.0)
        _checks.choice(violators, "violators", where, VIOLATORS)
        if cosine_scale is not None:
            _checks.number(cosine_scale, "cosine_scale", where, low=0.0, low_open=True)
        self.encoder = encoder
        self.image_head = nn.Linear(encoder.out_features, embed_dim)
        self.class_encoder = {
            "identity": lambda: nn.Identity(),
            "linear": lambda: nn.Linear(num_attributes, embed_dim, bias=False),
            "mlp": lambda: nn.Sequential(nn.Linear(num_attributes, 64), nn.ReLU(), nn.Linear(64, embed_dim)),
        }[class_encoder]()
        self.num_attributes, self.margin, self.violators = num_attributes, margin, violators
        self.cosine_scale = cosine_scale

    def embed_images(self, x: torch.Tensor) -> torch.Tensor:
        """f(x): (B, D)."""
        return self.image_head(self.encoder(x))

    def embed_classes(self, attributes: torch.Tensor) -> torch.Tensor:
        """g(y) for each row of ``attributes``: (C, D)."""
        return self.class_encoder(_codes(_class_rows(attributes, self.num_attributes, "AttributeEmbedding")))

    def forward(self, x: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        """Compatibility scores (B, C) of each image with each class described by ``attributes`` (C, A)."""
        f, g = self.embed_images(x), self.embed_classes(attributes)
        if self.cosine_scale is not None:
            f, g = nn.functional.normalize(f, dim=1) * self.cosine_scale, nn.functional.normalize(g, dim=1)
        return f @ g.T

    def loss(self, x: torch.Tensor, labels: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        """Hinge loss of a batch; ``labels`` index the rows of ``attributes`` (the training classes)."""
        return attribute_hinge(self(x, attributes), labels, self.margin, self.violators)
