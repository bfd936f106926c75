"""The two reference points of every experiment: train on the source, or on the target."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Batch, Method

__all__ = ["SourceOnly", "TargetOnly"]


class SourceOnly(Method):
    """Cross-entropy on labelled source data; the target is never seen.

    Only source batches go through the network, so batch-norm layers (if any)
    keep source statistics: what a model trained without adaptation would do.
    """

    def loss(self, source: Batch, target: Batch, progress: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        xs, ys = source
        classification = F.cross_entropy(self.classifier(xs), ys)
        return classification, {"classification": classification.detach()}


class TargetOnly(Method):
    """Cross-entropy on labelled **target** training data: an oracle.

    It reads target labels that an unsupervised method never has, so its accuracy
    is an upper reference for adaptation (the "train on target" row of
    Ganin et al. 2016), not a competitor.
    """

    uses_target_labels = True
    oracle = True

    def loss(self, source: Batch, target: Batch, progress: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        xt, yt = target
        if yt is None:
            raise ValueError("TargetOnly needs labelled target batches")
        classification = F.cross_entropy(self.classifier(xt), yt)
        return classification, {"classification": classification.detach()}
