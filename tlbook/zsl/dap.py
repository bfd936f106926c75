"""Direct Attribute Prediction (Lampert, Nickisch & Harmeling, CVPR 2009)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .. import _checks
from .model import _class_rows, _encoder

__all__ = ["DAP"]

PRIOR_CLIP = 0.02  # keeps log p(a) finite for attributes that are (almost) never or always on


class DAP(nn.Module):
    r"""One probabilistic classifier per attribute, then the most probable class signature.

    Training: a sigmoid output per attribute, binary cross-entropy against the attributes
    of the image's class. Test, assuming independent attributes (Lampert et al., eq. 2):

    .. math:: \log p(z \mid x) = \sum_m \bigl[a^z_m \log p(a_m{=}1 \mid x) + (1 - a^z_m)\log p(a_m{=}0 \mid x)\bigr]
              - \sum_m \bigl[a^z_m \log p_m + (1 - a^z_m)\log (1 - p_m)\bigr] + \text{const}

    where the prior p_m is the mean of attribute m over the training classes, recorded by
    :meth:`loss`. The attribute classifiers share ``encoder`` (the original trains independent
    SVMs on fixed features; sharing keeps the comparison with the embedding fair).
    """

    def __init__(self, encoder: nn.Module, num_attributes: int):
        super().__init__()
        _encoder(encoder, "DAP")
        num_attributes = _checks.integer(num_attributes, "num_attributes", "DAP")
        self.encoder = encoder
        self.attribute_head = nn.Linear(encoder.out_features, num_attributes)
        self.num_attributes = num_attributes
        self.register_buffer("prior", torch.full((num_attributes,), 0.5))

    def attribute_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of p(a_m = 1 | x): (B, A)."""
        return self.attribute_head(self.encoder(x))

    def forward(self, x: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        """Log-posterior scores (B, C) of each class described by ``attributes`` (C, A), up to a constant."""
        _class_rows(attributes, self.num_attributes, "DAP")
        logits = self.attribute_logits(x)
        a = attributes.to(logits.dtype)
        likelihood = F.logsigmoid(logits) @ a.T + F.logsigmoid(-logits) @ (1 - a).T
        prior = self.prior.clamp(PRIOR_CLIP, 1 - PRIOR_CLIP).to(logits.dtype)
        return likelihood - (a @ prior.log() + (1 - a) @ (1 - prior).log())

    def loss(self, x: torch.Tensor, labels: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy per attribute; ``labels`` index the rows of ``attributes`` (the training classes)."""
        _class_rows(attributes, self.num_attributes, "DAP.loss")
        _checks.labels(labels, "labels", "DAP.loss", num_classes=len(attributes), n=len(x))
        if self.training:
            self.prior.copy_((attributes if attributes.is_floating_point() else attributes.float()).mean(0).detach())
        return F.binary_cross_entropy_with_logits(self.attribute_logits(x), attributes[labels].to(x.dtype))
