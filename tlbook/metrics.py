"""Evaluation helpers: accuracy and feature extraction in eval mode, in chunks."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, ContextManager, Iterator

import numpy as np
import torch
from torch import nn

from . import _checks

__all__ = ["accuracy", "accuracy_by_bins", "predict", "extract", "eval_mode", "feature_sample", "proxy_a_distance"]


def eval_mode(model: nn.Module) -> ContextManager[nn.Module]:
    """Put ``model`` in eval mode without gradients, then restore its previous mode (``with eval_mode(model):``;
    ``model`` is checked at the call)."""
    return _eval_mode(_checks.module(model, "model", "eval_mode"))


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def extract(fn: Callable[[torch.Tensor], torch.Tensor], model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """``fn(chunk)`` over ``x`` in chunks, with ``model`` in eval mode; results concatenated. An ``x`` the
    model cannot read (a wrong shape or dtype) is a ``ValueError`` that names it, with torch's reason."""
    return _evaluate(fn, model, x, batch_size, "x", "extract")


def _evaluate(fn: Callable[[torch.Tensor], torch.Tensor], model: nn.Module, x: torch.Tensor, batch_size: int, name: str,
              where: str) -> torch.Tensor:
    _checks.module(model, "model", where)
    if not callable(fn):
        raise TypeError(f"{where}: fn must be a function of a batch of inputs, got {_checks._got(fn)}")
    _checks.tensor(x, name, where, floating=None, min_rows=1, what="a batch of inputs (N, ...)")
    chunks = x.split(_checks.integer(batch_size, "batch_size", where))
    with _eval_mode(model):
        try:  # a first chunk the model cannot read is the input's fault; anything later is raised as it is
            first = fn(chunks[0])
        except torch.cuda.OutOfMemoryError:  # torch.OutOfMemoryError in newer versions, the same class
            raise
        except (RuntimeError, ValueError) as error:  # torch's shape errors, or the model's own check of its input
            raise ValueError(f"{where}: the model could not read {name}, {_checks._got(x)}: {error}") from error
        if not isinstance(first, torch.Tensor):
            what = "the model" if fn is model else "fn"
            raise TypeError(f"{where}: {what} must return a tensor for a batch of {name}, got {_checks._got(first)}")
        return torch.cat([first, *(fn(chunk) for chunk in chunks[1:])])


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Predicted class of every input (argmax of the model's logits)."""
    return _logits(model, x, batch_size).argmax(1)


def _logits(model: nn.Module, x: torch.Tensor, batch_size: int = 256, name: str = "x", where: str = "predict") -> torch.Tensor:
    """The model's logits for ``x``, checked to be ``(N, classes)``; errors name ``x`` as ``name``."""
    logits = _evaluate(model, model, x, batch_size, name, where)
    if logits.ndim != 2:
        raise ValueError(f"{where}: the model must return logits (N, classes) for {name}, got shape {tuple(logits.shape)}")
    return logits


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Fraction of ``x`` that ``model`` classifies as ``y`` (a float in [0, 1])."""
    _checks.tensor(x, "x", "accuracy", floating=None, min_rows=1, what="a batch of inputs (N, ...)")
    _checks.labels(y, "y", "accuracy", any_integer=True)
    _checks.same_rows(x, y, ("x", "y"), "accuracy")
    logits = _logits(model, x, batch_size, where="accuracy")
    _checks.labels(y, "y", "accuracy", num_classes=logits.shape[1], any_integer=True)
    return (logits.argmax(1) == y.to(logits.device)).sum().item() / len(y)  # an exact count over a count


def feature_sample(model: nn.Module, x: torch.Tensor, y: torch.Tensor, n: int = 500,
                   layer: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The features of the first ``n`` examples, and their labels: what the book's feature maps draw.

    By default the head's input (``model.classifier.features``, or ``model.features``); with ``layer``,
    that named layer of the classifier's ``activations`` (e.g. ``"fc2"``, the layer DDC aligns).
    """
    where = "feature_sample"
    network = getattr(_checks.module(model, "model", where), "classifier", model)
    if not callable(getattr(network, "features", None)):
        raise TypeError(f"{where}: model must be a Classifier (with .features) or a method that holds one as "
                        f".classifier, got {type(model).__name__}")
    _checks.tensor(x, "x", where, floating=None, min_rows=1, what="a batch of inputs (N, ...)")
    _checks.labels(y, "y", where, num_classes=getattr(network, "num_classes", None), any_integer=True)
    _checks.same_rows(x, y, ("x", "y"), where)
    n = _checks.integer(n, "n", where)
    if layer is None:
        return extract(network.features, model, x[:n]), y[:n]
    names = ["backbone", *network.layers._modules] if hasattr(network, "activations") else []  # no forward pass
    if not isinstance(layer, str) or layer not in names:
        raise ValueError(f"{where}: unknown layer {layer!r}; this network's named layers are {names}")
    return extract(lambda chunk: network.activations(chunk)[layer], model, x[:n]), y[:n]


def accuracy_by_bins(model: nn.Module, x: torch.Tensor, y: torch.Tensor, value: torch.Tensor,
                     bins: list[tuple[float, float]]) -> list[float]:
    """Accuracy on the examples whose ``value`` lies in each ``[low, high)`` of ``bins`` (nan for an empty
    bin): e.g. the target digits split by the contrast between stroke and background (chapter 3)."""
    where = "accuracy_by_bins"
    _checks.tensor(x, "x", where, floating=None, min_rows=1, what="a batch of inputs (N, ...)")
    _checks.labels(y, "y", where, any_integer=True)
    _checks.same_rows(x, y, ("x", "y"), where)
    _checks.tensor(value, "value", where, ndim=1, floating=None, what="one number per example (N,)")
    if len(value) != len(x):
        raise ValueError(f"{where}: value must hold one number per example, {len(x)}, got {len(value)}")
    if value.is_floating_point() and value.isnan().any():
        raise ValueError(f"{where}: value must not be NaN (such an example would lie in no bin)")
    _bins(bins, where)
    logits = _logits(model, x, where=where)
    _checks.labels(y, "y", where, num_classes=logits.shape[1], any_integer=True)
    right = (logits.argmax(1) == y.to(logits.device)).float().cpu()
    value = value.cpu()
    return [right[(value >= low) & (value < high)].mean().item() for low, high in bins]


def _bins(bins: object, where: str) -> None:
    """A list of intervals ``(low, high)``, ``low < high`` (infinite ends allowed)."""
    if not isinstance(bins, (list, tuple)):
        raise TypeError(f"{where}: bins must be a list of (low, high) intervals, got {_checks._got(bins)}")
    for interval in bins:
        if not isinstance(interval, (list, tuple)) or len(interval) != 2:
            raise ValueError(f"{where}: bins must be a list of (low, high) intervals, got {interval!r} in it")
        low, high = (_checks.number(end, "bins", where, finite=False) for end in interval)
        if not low < high:
            raise ValueError(f"{where}: bins must be intervals (low, high) with low < high, got {interval!r}")


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

    for name, features in (("source", source), ("target", target)):
        _checks.tensor(features, name, "proxy_a_distance", ndim=2, floating=None, min_rows=4, what="features (n, d)")
    if source.shape[1] != target.shape[1]:
        raise ValueError(f"proxy_a_distance: source and target must have one width, got {source.shape[1]} and {target.shape[1]}")
    seed = _checks.integer(seed, "seed", "proxy_a_distance", minimum=0)
    n = min(len(source), len(target))
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
