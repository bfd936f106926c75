"""Evaluation helpers: accuracy and feature extraction in eval mode, in chunks."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

__all__ = ["accuracy", "accuracy_by_bins", "predict", "extract", "eval_mode", "feature_sample", "proxy_a_distance"]


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode without gradients, then restore its previous mode."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def extract(fn: Callable[[torch.Tensor], torch.Tensor], model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """``fn(chunk)`` over ``x`` in chunks, with ``model`` in eval mode; results concatenated."""
    if len(x) == 0:
        raise ValueError("cannot evaluate on an empty set of examples")
    with eval_mode(model):
        return torch.cat([fn(chunk) for chunk in x.split(batch_size)])


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Predicted class of every input (argmax of the model's logits)."""
    return extract(lambda chunk: model(chunk).argmax(1), model, x, batch_size)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Fraction of ``x`` that ``model`` classifies as ``y`` (a float in [0, 1])."""
    if not isinstance(y, torch.Tensor) or y.ndim != 1 or y.dtype.is_floating_point or y.dtype == torch.bool:
        got = f"a {type(y).__name__}" if not isinstance(y, torch.Tensor) else f"shape {tuple(y.shape)}, dtype {y.dtype}"
        raise ValueError(f"labels y must be a 1-D integer tensor of class indices, shape (N,); got {got}")
    if len(x) != len(y):
        raise ValueError(f"{len(x)} inputs but {len(y)} labels")
    if len(y) == 0:
        raise ValueError("accuracy of an empty set: x and y hold no example")
    return (predict(model, x, batch_size) == y).sum().item() / len(y)  # an exact count over a count


def feature_sample(model: nn.Module, x: torch.Tensor, y: torch.Tensor, n: int = 500,
                   layer: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The features of the first ``n`` examples, and their labels: what the book's feature maps draw.

    By default the head's input (``model.classifier.features``, or ``model.features``); with ``layer``,
    that named layer of the classifier's ``activations`` (e.g. ``"fc2"``, the layer DDC aligns).
    """
    network = getattr(model, "classifier", model)
    if layer is None:
        return extract(network.features, model, x[:n]), y[:n]
    names = ["backbone", *network.layers._modules] if hasattr(network, "activations") else []  # no forward pass
    if layer not in names:
        raise ValueError(f"unknown layer {layer!r}; this network's named layers are {names}")
    return extract(lambda chunk: network.activations(chunk)[layer], model, x[:n]), y[:n]


def accuracy_by_bins(model: nn.Module, x: torch.Tensor, y: torch.Tensor, value: torch.Tensor,
                     bins: list[tuple[float, float]]) -> list[float]:
    """Accuracy on the examples whose ``value`` lies in each ``[low, high)`` of ``bins`` (nan for an empty
    bin): e.g. the target digits split by the contrast between stroke and background (chapter 3)."""
    if len(value) != len(x):
        raise ValueError(f"one value per example is needed: {len(value)} values for {len(x)} examples")
    right = (predict(model, x) == y).float().cpu()
    value = value.cpu()
    return [right[(value >= low) & (value < high)].mean().item() for low, high in bins]


def proxy_a_distance(source: torch.Tensor, target: torch.Tensor, seed: int = 0) -> float:
    r"""Proxy A-distance between two samples of features (Ben-David et al. 2007; Ganin et al. 2016).

    A linear classifier (logistic regression on standardised features) learns to tell
    source from target on one half of a balanced sample and is tested on the other half;
    with test error :math:`\epsilon`,

    .. math:: \hat d_A = 2\,(1 - 2\epsilon) ,

    near 0 when the two samples cannot be told apart and near 2 when they are separable.
    An error above 1/2 (chance, up to noise) counts as 1/2, so the result lies in [0, 2].
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if source.ndim != 2 or target.ndim != 2 or source.shape[1] != target.shape[1]:
        raise ValueError(f"expected two feature matrices (n, d) and (m, d), got {tuple(source.shape)} and {tuple(target.shape)}")
    n = min(len(source), len(target))
    if n < 4:
        raise ValueError(f"need at least 4 examples per domain, got {len(source)} and {len(target)}")
    g = torch.Generator().manual_seed(seed)
    pick = lambda x: x.detach().float().cpu()[torch.randperm(len(x), generator=g)[:n]]  # noqa: E731
    x = torch.cat([pick(source), pick(target)]).numpy()
    y = np.r_[np.zeros(n), np.ones(n)]
    order = torch.randperm(2 * n, generator=g).numpy()
    train, test = order[: n], order[n:]
    scaler = StandardScaler().fit(x[train])
    classifier = LogisticRegression(max_iter=2000).fit(scaler.transform(x[train]), y[train])
    error = 1.0 - classifier.score(scaler.transform(x[test]), y[test])
    return 2.0 * (1.0 - 2.0 * min(error, 0.5))
