"""Plots the notebooks share: example grids, training curves, 2-D feature maps."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .data import Domain
from .train import History

__all__ = ["BOOK_STYLE", "BOOK_WIDTH", "domain_grid", "image_rows", "training_curves", "embed_2d", "feature_map",
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


def _as_image(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().permute(1, 2, 0).clamp(0, 1).numpy()


def domain_grid(domains: Sequence[Domain], per_row: int = 12, split: str = "train") -> plt.Figure:
    """One row of example images per domain, labelled by class."""
    fig, axes = plt.subplots(len(domains), per_row, figsize=(min(BOOK_WIDTH, 1.2 + per_row * 0.55), len(domains) * 0.8),
                             squeeze=False)
    for row, domain in zip(axes, domains):
        x, y = getattr(domain, f"x_{split}"), getattr(domain, f"y_{split}")
        for ax, image, label in zip(row, x[:per_row], y[:per_row].tolist()):
            ax.imshow(_as_image(image), interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(str(label), fontsize=8, pad=2)
        row[0].set_ylabel(domain.name, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def image_rows(rows: dict[str, torch.Tensor], title: str = "") -> plt.Figure:
    """A grid of images, one labelled row per entry of ``rows`` (each ``N×C×H×W`` in ``[0, 1]``); the
    labels sit left of the figure (1.5 in are left for them within the book's column)."""
    width = max(len(images) for images in rows.values())
    fig, axes = plt.subplots(len(rows), width, figsize=(min(BOOK_WIDTH - 1.5, width * 0.7), len(rows) * 0.8), squeeze=False)
    for row, (label, images) in zip(axes, rows.items()):
        for ax in row:
            ax.axis("off")
        for ax, image in zip(row, images):
            ax.imshow(_as_image(image), interpolation="nearest")
        row[0].text(-0.1, 0.5, label, transform=row[0].transAxes, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def training_curves(history: History, title: str = "", terms: list[str] | None = None, log_loss: bool = False) -> plt.Figure:
    """Loss terms (left; ``terms`` picks some, ``log_loss`` a log scale) and held-out accuracies (right)
    against the training step. The accuracies are for reading: nothing selects weights by them."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(BOOK_WIDTH, 3.2))
    for name in terms if terms is not None else history.terms:
        if name not in history.terms:
            raise KeyError(f"no logged term {name!r}; logged: {', '.join(history.terms)}")
        left.plot(history.steps, history.terms[name], label=name)
    left.set(xlabel="step", ylabel="loss", yscale="log" if log_loss else "linear", title="training terms")
    for name, values in history.evals.items():
        right.plot(history.eval_steps, values, marker="o", ms=3, label=name)
    right.set(xlabel="step", ylabel="accuracy", ylim=(0, 1.02), title="held-out accuracy (read, not selected)")
    for ax in (left, right):
        ax.legend(fontsize=8), ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def embed_2d(features: torch.Tensor, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Project ``N×d`` features to 2-D with PCA or t-SNE (scikit-learn)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = features.detach().cpu().double().numpy()
    if method == "pca":
        return PCA(2, random_state=seed).fit_transform(x)
    if method == "tsne":
        x = PCA(min(50, x.shape[1]), random_state=seed).fit_transform(x)  # the usual t-SNE preprocessing
        return TSNE(2, init="pca", perplexity=30, random_state=seed).fit_transform(x)
    raise ValueError(f"unknown projection {method!r}; choose 'pca' or 'tsne'")


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
    (fs, ys), (ft, yt) = source, target
    points = embed_2d(torch.cat([fs, ft]), method, seed)
    ps, pt = points[: len(fs)], points[len(fs):]
    fig, (by_domain, by_class) = plt.subplots(1, 2, figsize=(BOOK_WIDTH, 3.8))
    by_domain.scatter(*ps.T, s=5, alpha=0.5, label="source", c="tab:blue")
    by_domain.scatter(*pt.T, s=5, alpha=0.5, label="target", c="tab:orange")
    by_domain.legend(markerscale=3), by_domain.set_title("by domain")
    labels = torch.cat([ys, yt]).cpu().numpy()
    scatter = by_class.scatter(*points.T, s=5, alpha=0.6, c=labels, cmap="tab10")
    by_class.scatter(*pt.T, s=12, facecolors="none", edgecolors="k", linewidths=0.2)
    by_class.set_title("by class (target circled)")
    fig.colorbar(scatter, ax=by_class, ticks=range(int(labels.max()) + 1))
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
    number on what the left panels show.
    """
    from .metrics import feature_sample, proxy_a_distance

    distances = {}
    for name, model in models.items():
        features = [feature_sample(model, d.x_test, d.y_test, layer=layer) for d in (source, target)]
        distances[name] = proxy_a_distance(features[0][0], features[1][0], seed)
        feature_map(*features, method=method, seed=seed,
                    title=f"{layer}{', ' + role if role else ''}: {name} (proxy A-distance {distances[name]:.2f})")
        plt.show()
    return distances
