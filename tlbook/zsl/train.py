"""Zero-shot models train on ``fit``, the one loop of the package, on the seen classes of a ZeroShotData."""
from __future__ import annotations

import torch
from torch import nn

from .. import _checks
from .._utils import seed_everything
from ..data import Domain
from ..methods.base import Batch, Method
from ..train import fit
from .data import ZeroShotData, _attribute_matrix, _problem

__all__ = ["SeenClasses", "seen_class_domain", "train_zero_shot"]


def _zero_shot_model(model: object, where: str) -> nn.Module:
    """A module with ``loss(x, labels, attributes)`` and ``forward(x, attributes)``, as AttributeEmbedding and DAP."""
    _checks.module(model, "model", where, what="a zero-shot model (AttributeEmbedding, DAP...)")
    if not callable(getattr(model, "loss", None)):
        raise TypeError(f"{where}: model must be a zero-shot model with loss(x, labels, attributes), as AttributeEmbedding "
                        f"and DAP have, got a {type(model).__name__} without one")
    return model


def _same_attributes(model: nn.Module, count: int, name: str, where: str) -> None:
    """A model built for ``num_attributes`` attributes (when it says) scores classes of ``count`` attributes."""
    expected = getattr(model, "num_attributes", count)
    if expected != count:
        raise ValueError(f"{where}: model was built for {expected} attributes, but {name} describes classes by {count}")


class SeenClasses(Method):
    """A zero-shot model (``loss(x, labels, attributes)`` and ``forward(x, attributes)``, as
    :class:`AttributeEmbedding` and :class:`DAP` have) as a method for ``fit``: its loss on the seen
    classes, whose attributes it holds; labels index those classes. Scores over the seen classes are
    what ``fit``'s evaluation reads."""

    def __init__(self, model: nn.Module, seen_attributes: torch.Tensor):
        _zero_shot_model(model, "SeenClasses")
        _attribute_matrix(seen_attributes, "seen_attributes", "SeenClasses", min_rows=2)
        _same_attributes(model, seen_attributes.shape[1], "seen_attributes", "SeenClasses")
        super().__init__(model)
        self.register_buffer("seen_attributes", seen_attributes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(x, self.seen_attributes)

    def loss(self, source: Batch, target: Batch, progress: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, labels = source
        return self.classifier.loss(x, labels, self.seen_attributes), {}


def seen_class_domain(data: ZeroShotData) -> Domain:
    """The seen classes of ``data`` as a domain, labelled by their row in ``data.attributes[data.seen]``:
    nothing of the unseen classes is in it."""
    _problem(data, "data", "seen_class_domain")

    def row(labels: torch.Tensor) -> torch.Tensor:
        return torch.searchsorted(data.seen, labels)  # global class id -> row of the seen classes' attributes

    return Domain(f"{data.name} (seen classes)", "zero-shot", data.x_train, row(data.y_train),
                  data.x_test_seen, row(data.y_test_seen), len(data.seen))


def train_zero_shot(model: nn.Module, data: ZeroShotData, steps: int = 400, batch_size: int = 64, lr: float = 1e-3,
                    weight_decay: float = 1e-4, seed: int = 0, progress_bar: bool = True) -> list[float]:
    """Adam on ``model.loss(x, labels, attributes[seen])`` over batches of seen-class images, by ``fit``;
    returns the loss of every step. Only ``data.seen`` classes and their attributes reach the model."""
    where = "train_zero_shot"
    _zero_shot_model(model, where)
    _problem(data, "data", where)
    _checks.integer(steps, "steps", where)
    _checks.integer(batch_size, "batch_size", where, minimum=2)
    _checks.number(lr, "lr", where, low=0.0, low_open=True)
    _checks.number(weight_decay, "weight_decay", where, low=0.0)
    _checks.integer(seed, "seed", where, minimum=0)
    if not isinstance(progress_bar, bool):
        raise TypeError(f"{where}: progress_bar must be True or False, got {_checks._got(progress_bar)}")
    _same_attributes(model, data.num_attributes, "data.attributes", where)
    if len(data.seen) < 2:
        raise ValueError(f"{where}: data must have at least 2 seen classes to train on, got {data.seen.tolist()}")
    seed_everything(seed)
    history = fit(SeenClasses(model, data.attributes[data.seen]), seen_class_domain(data), steps=steps,
                  batch_size=batch_size, optimizer="adam", lr=lr, weight_decay=weight_decay, seed=seed,
                  eval_sets={}, log_every=1, progress_bar=progress_bar)
    return history.terms["loss"]
