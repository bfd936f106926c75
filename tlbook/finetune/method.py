"""Fine-tuning as a method for ``tlbook.fit``: cross-entropy on the (small) labelled
target set plus an optional regulariser of the weights, such as L2-SP."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import _checks
from ..data import Domain, labelled_subset
from ..methods.base import Batch, Method
from ..nn import Classifier
from ..train import fit
from . import _args

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
        if regularizer is not None and not callable(regularizer):
            raise TypeError(f"FineTune: regularizer must be a function of the model (e.g. an L2SP) or None, "
                            f"got {_checks._got(regularizer)}")
        if param_groups is not None:
            _check_param_groups(param_groups, self.classifier)
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


def _check_param_groups(groups: object, classifier: nn.Module) -> None:
    """Optimiser parameter groups (dicts with ``"params"``, or a list of parameters) of ``classifier``'s own
    parameters, with positive, finite learning rates where given. Groups built from another model (say
    ``fresh`` before ``transfer_layers`` copied it) would train that model, not this one: refused."""
    where = "FineTune"
    if not isinstance(groups, (list, tuple)) or not groups:
        raise (ValueError if isinstance(groups, (list, tuple)) else TypeError)(
            f"{where}: param_groups must be a non-empty list of parameter groups (dicts with 'params'), "
            f"got {_checks._got(groups)}")
    if all(isinstance(g, torch.Tensor) for g in groups):
        groups = [{"params": list(groups)}]
    owned = {id(p) for p in classifier.parameters()}
    for i, group in enumerate(groups):
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{where}: param_groups[{i}] must be a dict with 'params' (as discriminative_param_groups "
                            f"gives), got {_checks._got(group)}")
        params = group["params"]
        params = [params] if isinstance(params, torch.Tensor) else params
        if not isinstance(params, (list, tuple)):
            raise TypeError(f"{where}: param_groups[{i}]['params'] must be a list of parameters, got {_checks._got(params)}")
        if any(id(p) not in owned for p in params):
            raise ValueError(f"{where}: param_groups[{i}] holds parameters that are not the classifier's: build "
                             "the groups from the model you fine-tune (transfer_layers returns a copy)")
        for key in ("lr", "weight_decay"):
            if key in group:
                _checks.number(group[key], f"param_groups[{i}][{key!r}]", where, low=0.0, low_open=key == "lr")


def few_labels(domain: Domain, per_class: int, seed: int = 0) -> Domain:
    """``domain`` with only ``per_class`` labelled training examples per class (drawn with
    ``seed``); the test split is unchanged."""
    where = "few_labels"
    _args.domain(domain, "domain", where)
    _checks.integer(per_class, "per_class", where)
    _checks.integer(seed, "seed", where, minimum=None)
    counts = torch.bincount(domain.y_train.cpu(), minlength=domain.num_classes)[: domain.num_classes]
    smallest = int(counts.argmin())
    if counts[smallest] < per_class:
        raise ValueError(f"{where}: per_class must be at most {int(counts[smallest])}: class {smallest} of "
                         f"{domain.name!r} has only {int(counts[smallest])} training examples, got {per_class}")
    x, y = labelled_subset(domain, per_class, seed)
    return Domain(f"{domain.name} ({per_class}/class)", domain.family, x, y, domain.x_test, domain.y_test,
                  domain.num_classes)


def fine_tune(model: nn.Module, labelled: Domain, *, steps: int = 150, batch_size: int = 64, lr: float = 1e-3,
              seed: int = 0, regularizer: Callable[[nn.Module], torch.Tensor] | None = None,
              param_groups: list[dict] | None = None, progress_bar: bool = False):
    """Fine-tune ``model`` in place on ``labelled`` (e.g. ``few_labels(target, 5)``) with Adam;
    returns ``fit``'s History, whose ``final("target test")`` is the accuracy after the last step."""
    where = "fine_tune"
    _checks.module(model, "model", where)
    _args.domain(labelled, "labelled", where)
    _args.training(where, steps, batch_size, lr, seed)
    _args.flag(progress_bar, "progress_bar", where)
    outputs = getattr(model, "num_classes", None)
    if isinstance(outputs, int) and outputs < labelled.num_classes:
        raise ValueError(f"{where}: labelled has {labelled.num_classes} classes but the model has {outputs} outputs")
    return fit(FineTune(model, regularizer, param_groups), labelled, steps=steps, batch_size=batch_size,
               optimizer="adam", lr=lr, seed=seed, eval_every=steps, progress_bar=progress_bar,
               eval_sets={"target test": (labelled.x_test, labelled.y_test)})
