"""Plots the notebooks share: example grids, training curves, 2-D feature maps."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from . import _checks
from .data import Domain
from .train import History

__all__ = ["BOOK_STYLE", "BOOK_WIDTH", "MAX_PER_ROW", "domain_grid", "image_rows", "training_curves", "embed_2d", "feature_map",
           "layer_maps", "use_book_style"]

#: The book's text column is about 784 px wide; at 100 dpi a figure this wide (inches) is shown unscaled.
BOOK_WIDTH = 7.8

#: Sizes at 100 dpi: no text below 8 pt (11 px), since a figure no wider than the column is never shrunk.
BOOK_STYLE = {
    "figure.figsize": (BOOK_WIDTH, 3.2), "figure.dpi": 100, "savefig.dpi": 100,
    "font.size": 10, "axes.titlesize": 10, "axes.labelsize": 9.5, "xtick.labelsize": 9, "ytick.labelsize": 9,
    "legend.fontsize": 8.5, "figure.titlesize": 11,
}


def use_book_style() -> None:
    """Apply ``BOOK_STYLE`` to matplotlib (the notebooks' setup cell calls it): figures sized for the
    book's column at the dpi they are shown at, so that every label stays legible."""
    plt.rcParams.update(BOOK_STYLE)


MAX_PER_ROW = 64  #: images drawn side by side at most: far more would take minutes and show nothing legible


def _images(value: object, name: str, where: str) -> torch.Tensor:
    """Images ``N×C×H×W`` (at least one) with 1 (grey), 3 (RGB) or 4 (RGBA) channels, values in [0, 1]."""
    value = _checks.tensor(value, name, where, ndim=4, min_rows=1, what="images of shape (N, C, H, W)")
    if value.shape[1] not in (1, 3, 4):
        raise ValueError(f"{where}: {name} must have 1, 3 or 4 channels (grey, RGB, RGBA), got shape {tuple(value.shape)}")
    return value


def _per_row(count: int, name: str, where: str) -> None:
    if count > MAX_PER_ROW:
        raise ValueError(f"{where}: {name} asks for {count} images in a row; at most {MAX_PER_ROW} are drawn side by side")


def _show(ax: plt.Axes, image: torch.Tensor) -> None:
    """One ``C×H×W`` image, grey when it has one channel."""
    pixels = image.detach().cpu().permute(1, 2, 0).clamp(0, 1).numpy()
    if pixels.shape[2] == 1:
        ax.imshow(pixels[:, :, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(pixels, interpolation="nearest")


def domain_grid(domains: Sequence[Domain], per_row: int = 12, split: str = "train") -> plt.Figure:
    """One row of example images per domain, labelled by class."""
    if isinstance(domains, Domain) or not isinstance(domains, (list, tuple)) or not domains:
        raise TypeError(f"domain_grid: domains must be a non-empty list of Domain (one row each), got {_checks._got(domains)}")
    per_row = _checks.integer(per_row, "per_row", "domain_grid")
    _per_row(per_row, "per_row", "domain_grid")
    split = _checks.choice(split, "split", "domain_grid", ("train", "test"))
    for i, domain in enumerate(domains):
        if not isinstance(domain, Domain):
            raise TypeError(f"domain_grid: domains[{i}] must be a Domain, got {_checks._got(domain)}")
        _images(getattr(domain, f"x_{split}"), f"domains[{i}].x_{split}", "domain_grid")
    fig, axes = plt.subplots(len(domains), per_row, figsize=(min(BOOK_WIDTH, 1.2 + per_row * 0.55), len(domains) * 0.8),
                             squeeze=False)
    for row, domain in zip(axes, domains):
        x, y = getattr(domain, f"x_{split}"), getattr(domain, f"y_{split}")
        for ax, image, label in zip(row, x[:per_row], y[:per_row].tolist()):
            _show(ax, image)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(str(label), fontsize=8, pad=2)
        row[0].set_ylabel(domain.name, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def image_rows(rows: dict[str, torch.Tensor], title: str = "") -> plt.Figure:
    """A grid of images, one labelled row per entry of ``rows`` (each ``N×C×H×W`` in ``[0, 1]``); the
    labels sit left of the figure (1.5 in are left for them within the book's column)."""
    if not isinstance(rows, dict) or not rows:
        raise TypeError(f"image_rows: rows must be a non-empty dict label -> images (N, C, H, W), got {_checks._got(rows)}")
    for label, images in rows.items():
        _images(images, f"rows[{label!r}]", "image_rows")
        _per_row(len(images), f"rows[{label!r}]", "image_rows")
    if not isinstance(title, str):
        raise TypeError(f"image_rows: title must be a str, got {_checks._got(title)}")
    width = max(len(images) for images in rows.values())
    fig, axes = plt.subplots(len(rows), width, figsize=(min(BOOK_WIDTH - 1.5, width * 0.7), len(rows) * 0.8), squeeze=False)
    for row, (label, images) in zip(axes, rows.items()):
        for ax in row:
            ax.axis("off")
        for ax, image in zip(row, images):
            _show(ax, image)
        row[0].text(-0.1, 0.5, str(label), transform=row[0].transAxes, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _history_series(history: History, names: list[str]) -> None:
    """Every series drawn has one value per logged step: a term logged in only part of a run cannot be placed."""
    for group, steps, series, what in (("terms", history.steps, {n: history.terms[n] for n in names},
                                        "a term logged in only part of the run: leave it out with terms="),
                                       ("evals", history.eval_steps, history.evals, "an evaluation made in only part of the run")):
        for name, values in series.items():
            if len(values) != len(steps):
                raise ValueError(f"training_curves: history.{group}[{name!r}] has {len(values)} values for {len(steps)} "
                                 f"logged steps, so its steps are unknown ({what})")


def training_curves(history: History, title: str = "", terms: list[str] | None = None, log_loss: bool = False) -> plt.Figure:
    """Loss terms (left; ``terms`` picks some, ``log_loss`` a log scale) and held-out accuracies (right)
    against the training step. The accuracies are for reading: nothing selects weights by them."""
    if not isinstance(history, History):
        raise TypeError(f"training_curves: history must be a tlbook.train.History (what fit returns), got {_checks._got(history)}")
    if not isinstance(title, str):
        raise TypeError(f"training_curves: title must be a str, got {_checks._got(title)}")
    if terms is not None and (not isinstance(terms, (list, tuple)) or not all(isinstance(t, str) for t in terms)):
        raise TypeError(f"training_curves: terms must be a list of term names, got {_checks._got(terms)}")
    names = list(terms) if terms is not None else list(history.terms)
    missing = [name for name in names if name not in history.terms]
    if missing:
        raise ValueError(f"training_curves: terms {missing} were not logged; logged: {list(history.terms)}")
    if not isinstance(log_loss, bool):
        raise TypeError(f"training_curves: log_loss must be True or False, got {_checks._got(log_loss)}")
    _history_series(history, names)
    fig, (left, right) = plt.subplots(1, 2, figsize=(BOOK_WIDTH, 3.2))
    for name in names:
        left.plot(history.steps, history.terms[name], label=name)
    left.set(xlabel="step", ylabel="loss", yscale="log" if log_loss else "linear", title="training terms")
    for name, values in history.evals.items():
        right.plot(history.eval_steps, values, marker="o", ms=3, label=name)
    right.set(xlabel="step", ylabel="accuracy", ylim=(0, 1.02), title="held-out accuracy (read, not selected)")
    for ax in (left, right):
        if ax.get_legend_handles_labels()[0]:  # an empty panel (nothing logged) has no legend
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _features(value: object, name: str, where: str, min_rows: int) -> torch.Tensor:
    value = _checks.tensor(value, name, where, ndim=2, min_rows=min_rows, what="features of shape (N, d)")
    if value.shape[1] == 0:
        raise ValueError(f"{where}: {name} must have at least one column, got shape {tuple(value.shape)}")
    if not torch.isfinite(value).all():
        raise ValueError(f"{where}: {name} must be finite, got NaN or inf in {int((~torch.isfinite(value)).any(1).sum())} row(s)")
    return value


def embed_2d(features: torch.Tensor, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Project ``N×d`` features (N ≥ 2) to 2-D with PCA or t-SNE (scikit-learn). One feature is drawn on a
    line (a zero second column), points that all coincide at the origin; t-SNE's perplexity (30) is lowered
    to ``N − 1`` for fewer than 31 points."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    features = _features(features, "features", "embed_2d", min_rows=2)
    method = _checks.choice(method, "method", "embed_2d", ("pca", "tsne"))
    seed = _checks.integer(seed, "seed", "embed_2d", minimum=0)
    if seed >= 2**32:
        raise ValueError(f"embed_2d: seed must be below 2**32 (scikit-learn's random_state), got {seed}")
    x = features.detach().cpu().double().numpy()
    if not np.ptp(x, axis=0).any():  # every point the same (a collapsed layer): t-SNE would crash the interpreter
        return np.zeros((len(x), 2))
    if x.shape[1] == 1:
        x = np.hstack([x, np.zeros_like(x)])
    if method == "pca":
        return PCA(2, random_state=seed).fit_transform(x)
    x = PCA(min(50, x.shape[1], len(x)), random_state=seed).fit_transform(x)  # the usual t-SNE preprocessing
    return TSNE(2, init="pca", perplexity=min(30, len(x) - 1), random_state=seed).fit_transform(x)


def _labelled(value: object, name: str, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(features, labels)``: features ``N×d``, one class index ≥ 0 per row."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{where}: {name} must be a pair (features, labels), got {_checks._got(value)}")
    features = _features(value[0], f"{name} features", where, min_rows=1)
    labels = _checks.labels(value[1], f"{name} labels", where, n=len(features), any_integer=True)
    if labels.min() < 0:
        raise ValueError(f"{where}: {name} labels must be class indices ≥ 0, got {sorted(set(labels[labels < 0].tolist()))[:10]}")
    return features, labels


def feature_map(
    source: tuple[torch.Tensor, torch.Tensor],
    target: tuple[torch.Tensor, torch.Tensor],
    method: str = "tsne",
    seed: int = 0,
    title: str = "",
) -> plt.Figure:
    """Source and target features in one 2-D projection, coloured by domain (left) and class (right).

    ``source`` and ``target`` are ``(features, labels)``; target labels only colour
    the picture, they train nothing.
    """
    (fs, ys), (ft, yt) = _labelled(source, "source", "feature_map"), _labelled(target, "target", "feature_map")
    if fs.shape[1] != ft.shape[1]:
        raise ValueError(f"feature_map: source and target features must have one width, got {fs.shape[1]} and {ft.shape[1]}")
    if not isinstance(title, str):
        raise TypeError(f"feature_map: title must be a str, got {_checks._got(title)}")
    points = embed_2d(torch.cat([fs, ft.to(fs.device)]), method, seed)
    ps, pt = points[: len(fs)], points[len(fs):]
    fig, (by_domain, by_class) = plt.subplots(1, 2, figsize=(BOOK_WIDTH, 3.8))
    by_domain.scatter(*ps.T, s=5, alpha=0.5, label="source", c="tab:blue")
    by_domain.scatter(*pt.T, s=5, alpha=0.5, label="target", c="tab:orange")
    by_domain.legend(markerscale=3), by_domain.set_title("by domain")
    labels = torch.cat([ys.cpu(), yt.cpu()]).numpy()
    scatter = by_class.scatter(*points.T, s=5, alpha=0.6, c=labels, cmap="tab10")
    by_class.scatter(*pt.T, s=12, facecolors="none", edgecolors="k", linewidths=0.2)
    by_class.set_title("by class (target circled)")
    classes = int(labels.max()) + 1
    fig.colorbar(scatter, ax=by_class, ticks=range(classes) if classes <= 100 else None)  # a tick per class, when legible
    for ax in (by_domain, by_class):
        ax.set_xticks([]), ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def layer_maps(models: dict[str, torch.nn.Module], source: Domain, target: Domain, layer: str,
               role: str = "", method: str = "tsne", seed: int = 0) -> dict[str, float]:
    """One feature map per model (test images of both domains; t-SNE, or ``method="pca"``) of one named
    ``layer`` (``role`` says why it is drawn, e.g. "the layer DDC aligns"), titled with the proxy
    A-distance between the domains there; returns those distances.

    The proxy A-distance (0: a linear classifier cannot tell the domains apart, 2: it always can) puts a
    number on what the left panels show. Every model's features are read before the first map is drawn,
    so a layer one of them lacks is named before any work is shown.
    """
    from .metrics import feature_sample, proxy_a_distance

    if not isinstance(models, dict) or not models:
        raise TypeError(f"layer_maps: models must be a non-empty dict name -> model, got {_checks._got(models)}")
    for name, model in models.items():
        _checks.module(model, f"models[{name!r}]", "layer_maps")
    for name, domain in (("source", source), ("target", target)):
        if not isinstance(domain, Domain):
            raise TypeError(f"layer_maps: {name} must be a Domain, got {_checks._got(domain)}")
    for name, text in (("layer", layer), ("role", role)):
        if not isinstance(text, str):
            raise TypeError(f"layer_maps: {name} must be a str, got {_checks._got(text)}")
    method = _checks.choice(method, "method", "layer_maps", ("pca", "tsne"))
    seed = _checks.integer(seed, "seed", "layer_maps", minimum=0)
    sampled = {name: [feature_sample(model, d.x_test, d.y_test, layer=layer) for d in (source, target)]
               for name, model in models.items()}
    distances = {}
    for name, features in sampled.items():
        distances[name] = proxy_a_distance(features[0][0], features[1][0], seed)
        feature_map(*features, method=method, seed=seed,
                    title=f"{layer}{', ' + role if role else ''}: {name} (proxy A-distance {distances[name]:.2f})")
        plt.show()
    return distances
