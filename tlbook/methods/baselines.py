"""The two reference points of every experiment: train on the source, or on the target."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nn import batch_norm_layers, running_stats_frozen
from .base import Batch, Method

__all__ = ["AdaBN", "SourceOnly", "TargetOnly"]


class SourceOnly(Method):
    r"""Cross-entropy on labelled source data; the target is never seen.

    Only source batches go through the network, so batch-norm layers (if any)
    keep source statistics: what a model trained without adaptation would do.

    ``class_weights`` (one per class) weight each example's loss by its class,
    :math:`\frac1n \sum_i w_{y_i} \ell_i` over a batch: with the weights
    :math:`w_y = p_t(y) / p_s(y)` of a label shift (``tlbook.label_shift``), whose source mean is 1,
    this estimates the loss on the target's class proportions (importance-weighted risk; a batch of
    classes with weight 0 contributes 0).
    """

    def __init__(self, classifier, class_weights: torch.Tensor | None = None):
        super().__init__(classifier)
        if class_weights is not None:
            classes = getattr(classifier, "num_classes", None)
            if not isinstance(classes, int):
                raise TypeError(f"SourceOnly: class_weights needs a classifier that knows its num_classes (a "
                                f"tlbook.nn.Classifier), got a {type(classifier).__name__}")
            if not isinstance(class_weights, torch.Tensor) or class_weights.shape != (classes,):
                raise ValueError(f"SourceOnly: class_weights must be a tensor of shape ({classes},), one weight per class, "
                                 f"got {tuple(getattr(class_weights, 'shape', ())) or type(class_weights).__name__}")
            if not torch.isfinite(class_weights).all() or (class_weights < 0).any() or class_weights.sum() <= 0:
                raise ValueError("SourceOnly: class_weights must be finite, non-negative and not all zero, "
                                 f"got {class_weights.tolist()}")
            class_weights = class_weights.detach().float().clone()
        self.register_buffer("class_weights", class_weights)

    def loss(self, source: Batch, target: Batch, progress: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        xs, ys = source
        logits = self.classifier(xs)
        if self.class_weights is None:
            classification = F.cross_entropy(logits, ys)
        else:
            classification = (self.class_weights[ys] * F.cross_entropy(logits, ys, reduction="none")).mean()
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


class AdaBN(Method):
    """Source-only training whose batch-norm layers are normalised for the **target** at test time
    (Li, Wang, Shi, Liu & Hou, "Revisiting batch normalization for practical domain adaptation", 2016).

    Each step trains on the source batch exactly as ``SourceOnly`` does (normalised with its own
    batch statistics), with the running averages left alone; then the unlabelled target batch passes
    through the network without gradients, only to move the running averages. At test time every
    batch-norm layer therefore uses target statistics: the paper's AdaBN, with running averages over
    the last target batches in place of one pass over the whole target set. A baseline for every
    adaptation method on a network with batch norm: what the batch statistics alone buy.
    """

    def __init__(self, classifier):
        super().__init__(classifier)
        if not batch_norm_layers(classifier):
            raise ValueError("AdaBN: classifier has no batch-norm layer, and AdaBN changes batch-norm statistics "
                             "(build it with batch_norm=True)")

    def loss(self, source: Batch, target: Batch, progress: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        (xs, ys), (xt, _) = source, target
        if xt is None:
            raise ValueError("AdaBN needs unlabelled target batches: pass a target domain to fit")
        with running_stats_frozen(self.classifier):
            classification = F.cross_entropy(self.classifier(xs), ys)
        with torch.no_grad():
            self.classifier(xt)  # only moves the running averages towards the target's statistics
        return classification, {"classification": classification.detach()}
