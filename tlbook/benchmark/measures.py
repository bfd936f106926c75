"""What a stored study measures on each trained model besides its accuracies, by name (``Study.measures``).

Each measure takes the trained method, the pair's domains and the cell's seed, and returns numbers by name;
a study's cell stores them in its ``scores`` column (``Cell.stored_scores``), so that a page can show them
for every seed without training the models again.

- ``"label-free scores"``: ``tlbook.selection.label_free_scores`` of the model (chapter 7 chooses models by
  them: no target label is read);
- ``"accuracy by contrast"``: target-test accuracy in each bin of ``tlbook.data.CONTRAST_BINS``, the contrast
  between a photo-blended digit's stroke and its background (chapters 3 and 4: where a method helps).
"""
from __future__ import annotations

from typing import Callable

import torch

from ..data import CONTRAST_BINS, Domain, stroke_contrast
from ..methods import Method
from ..metrics import accuracy_by_bins
from ..selection import label_free_scores

__all__ = ["MEASURES"]  # measure: the stored column, written by run.make_cell


def _label_free(method: Method, source: Domain, target: Domain, seed: int) -> dict[str, float]:
    return label_free_scores(method, (source.x_test, source.y_test), source.x_train, target.x_train, seed=seed)


def _by_contrast(method: Method, source: Domain, target: Domain, seed: int) -> dict[str, float]:
    if source.x_test.shape != target.x_test.shape or not torch.equal(source.y_test, target.y_test):
        raise ValueError(f"accuracy by contrast needs a photo-blended pair, the target's test images the source's "
                         f"blended in the same order (e.g. handwritten->handwritten-m); got {source.name}->{target.name}")
    contrast = stroke_contrast(source.x_test, target.x_test)
    accuracies = accuracy_by_bins(method, target.x_test, target.y_test, contrast, list(CONTRAST_BINS.values()))
    return dict(zip(CONTRAST_BINS, accuracies))


#: The measures a study may ask for, by name.
MEASURES: dict[str, Callable[[Method, Domain, Domain, int], dict[str, float]]] = {
    "label-free scores": _label_free,
    "accuracy by contrast": _by_contrast,
}


def measure(names: tuple[str, ...], method: Method, source: Domain, target: Domain, seed: int) -> str:
    """The ``scores`` column of a cell: every measure of ``names`` on the trained ``method``, as "name=value;..."."""
    measured: dict[str, float] = {}
    for name in names:
        values = MEASURES[name](method, source, target, seed)
        if set(values) & set(measured):
            raise ValueError(f"measure {name!r} gives {sorted(set(values) & set(measured))}, which another measure gave")
        measured.update(values)
    return ";".join(f"{name}={value:.6g}" for name, value in measured.items())
