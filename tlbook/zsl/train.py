"""Zero-shot models train on ``fit``, the one loop of the package, on the seen classes of a ZeroShotData."""
from __future__ import annotations

import torch
from torch import nn

from .._utils import seed_everything
from ..data import Domain
from ..methods.base import Batch, Method
from ..train import fit
from .data import ZeroShotData

__all__ = ["SeenClasses", "seen_class_domain", "train_zero_shot"]


class SeenClasses(Method):
    """A zero-shot model (``loss(x, labels, attributes)`` and ``forward(x, attributes)``, as
    :class:`AttributeEmbedding` and :class:`DAP` have) as a method for ``fit``: its loss on the seen
    classes, whose attributes it holds; labels index those classes. Scores over the seen classes are
    what ``fit``'s evaluation reads."""

    def __init__(self, model: nn.Module, seen_attributes: torch.Tensor):
        super().__init__(model)
        if seen_attributes.ndim != 2 or len(seen_attributes) < 2:
            raise ValueError(f"expected (seen classes >= 2, attributes) attributes, got {tuple(seen_attributes.shape)}")
        self.register_buffer("seen_attributes", seen_attributes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(x, self.seen_attributes)

    def loss(self, source: Batch, target: Batch, progress: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, labels = source
        return self.classifier.loss(x, labels, self.seen_attributes), {}


def seen_class_domain(data: ZeroShotData) -> Domain:
    """The seen classes of ``data`` as a domain, labelled by their row in ``data.attributes[data.seen]``:
    nothing of the unseen classes is in it."""
    def row(labels: torch.Tensor) -> torch.Tensor:
        return torch.searchsorted(data.seen, labels)  # global class id -> row of the seen classes' attributes

    return Domain(f"{data.name} (seen classes)", "zero-shot", data.x_train, row(data.y_train),
                  data.x_test_seen, row(data.y_test_seen), len(data.seen))


def train_zero_shot(model: nn.Module, data: ZeroShotData, steps: int = 400, batch_size: int = 64, lr: float = 1e-3,
                    weight_decay: float = 1e-4, seed: int = 0, progress_bar: bool = True) -> list[float]:
    """Adam on ``model.loss(x, labels, attributes[seen])`` over batches of seen-class images, by ``fit``;
    returns the loss of every step. Only ``data.seen`` classes and their attributes reach the model."""
    if steps < 1 or batch_size < 2:
        raise ValueError(f"need steps >= 1 and batch_size >= 2, got {steps} and {batch_size}")
    seed_everything(seed)
    history = fit(SeenClasses(model, data.attributes[data.seen]), seen_class_domain(data), steps=steps,
                  batch_size=batch_size, optimizer="adam", lr=lr, weight_decay=weight_decay, seed=seed,
                  eval_sets={}, log_every=1, progress_bar=progress_bar)
    return history.terms["loss"]
