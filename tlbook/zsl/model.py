"""The attribute-embedding model: an image embedding f and a class embedding g, scored by f(x)·g(y)."""
from __future__ import annotations

import torch
from torch import nn

from ..losses.zsl import attribute_hinge

__all__ = ["AttributeEmbedding", "signatures"]

CLASS_ENCODERS = ("identity", "linear", "mlp")


def signatures(attributes: torch.Tensor) -> torch.Tensor:
    """Class attribute vectors in [0, 1] → ±1 codes with unit L2 norm, one row per class.

    Mapping 0 to −1 lets an absent attribute count against a class (a plain 0 would ignore it);
    the unit norm keeps classes with many attributes from winning every comparison
    (Akata et al., TPAMI 2016, normalise ALE's attribute vectors the same way). Train and test
    must use the same normalisation, so the models call this themselves.
    """
    if attributes.ndim != 2:
        raise ValueError(f"attributes must be (classes, attributes), got shape {tuple(attributes.shape)}")
    return nn.functional.normalize(2 * attributes.float() - 1, dim=1)


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
        if class_encoder not in CLASS_ENCODERS:
            raise ValueError(f"class_encoder must be one of {CLASS_ENCODERS}, got {class_encoder!r}")
        embed_dim = embed_dim or num_attributes
        if class_encoder == "identity" and embed_dim != num_attributes:
            raise ValueError(f"class_encoder='identity' needs embed_dim == num_attributes ({num_attributes}), got {embed_dim}")
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
        if attributes.shape[-1] != self.num_attributes:
            raise ValueError(f"expected {self.num_attributes} attributes per class, got {attributes.shape[-1]}")
        return self.class_encoder(signatures(attributes))

    def forward(self, x: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        """Compatibility scores (B, C) of each image with each class described by ``attributes`` (C, A)."""
        f, g = self.embed_images(x), self.embed_classes(attributes)
        if self.cosine_scale is not None:
            f, g = nn.functional.normalize(f, dim=1) * self.cosine_scale, nn.functional.normalize(g, dim=1)
        return f @ g.T

    def loss(self, x: torch.Tensor, labels: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        """Hinge loss of a batch; ``labels`` index the rows of ``attributes`` (the training classes)."""
        return attribute_hinge(self(x, attributes), labels, self.margin, self.violators)
