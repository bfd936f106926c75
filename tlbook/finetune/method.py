"""Fine-tuning as a method for ``tlbook.fit``: cross-entropy on the (small) labelled
target set plus an optional regulariser of the weights, such as L2-SP."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Domain, labelled_subset
from ..methods.base import Batch, Method
from ..nn import Classifier
from ..train import fit

__all__ = ["FineTune", "few_labels", "fine_tune"]


class FineTune(Method):
    """``CE(f(x), y) + regularizer(classifier)`` on labelled batches.

    Train it with ``fit(FineTune(model), few_labels(target, k))``: the labelled target
    examples play the part of ``fit``'s labelled domain. Frozen layers (see
    ``tlbook.finetune.freeze_layers``) get no gradient; optimisers only see trainable
    parameters, or ``param_groups`` (e.g. discriminative learning rates) when given.
    """

    def __init__(self, classifier: Classifier, regularizer: Callable[[nn.Module], torch.Tensor] | None = None,
                 param_groups: list[dict] | None = None):
        super().__init__(classifier)
        self.regularizer, self.param_groups = regularizer, param_groups

    def configure_optimizers(self, make):
        params = self.param_groups or [p for p in self.parameters() if p.requires_grad]
        if not params:
            raise ValueError("every parameter is frozen: there is nothing to fine-tune")
        return [make(params)]

    def loss(self, source: Batch, target: Batch, progress: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y = source
        classification = F.cross_entropy(self.classifier(x), y)
        if self.regularizer is None:
            return classification, {"classification": classification.detach()}
        penalty = self.regularizer(self.classifier)
        return classification + penalty, {"classification": classification.detach(), "penalty": penalty.detach()}


def few_labels(domain: Domain, per_class: int, seed: int = 0) -> Domain:
    """``domain`` with only ``per_class`` labelled training examples per class (drawn with
    ``seed``); the test split is unchanged."""
    x, y = labelled_subset(domain, per_class, seed)
    return Domain(f"{domain.name} ({per_class}/class)", domain.family, x, y, domain.x_test, domain.y_test,
                  domain.num_classes)


def fine_tune(model: nn.Module, labelled: Domain, *, steps: int = 150, batch_size: int = 64, lr: float = 1e-3,
              seed: int = 0, regularizer: Callable[[nn.Module], torch.Tensor] | None = None,
              param_groups: list[dict] | None = None, progress_bar: bool = False):
    """Fine-tune ``model`` in place on ``labelled`` (e.g. ``few_labels(target, 5)``) with Adam;
    returns ``fit``'s History, whose ``final("target test")`` is the accuracy after the last step."""
    return fit(FineTune(model, regularizer, param_groups), labelled, steps=steps, batch_size=batch_size,
               optimizer="adam", lr=lr, seed=seed, eval_every=steps, progress_bar=progress_bar,
               eval_sets={"target test": (labelled.x_test, labelled.y_test)})
