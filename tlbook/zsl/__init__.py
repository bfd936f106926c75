"""Zero-shot learning with attributes: data, the attribute embedding, DAP, ESZSL, and metrics.

>>> data = load_zero_shot("digits")
>>> model = AttributeEmbedding(DigitCNN(in_channels=1), data.num_attributes)
>>> train_zero_shot(model, data)
>>> scores = class_scores(model, data.x_test_unseen, data.attributes, data.unseen)
>>> per_class_accuracy(predict(scores, data.unseen), data.y_test_unseen)
"""
from __future__ import annotations

from .. import _checks
from .dap import DAP
from .data import ZeroShotData, most_distinct_classes, split_by_class
from .digits import DIGIT_GLYPHS, digit_strokes, semantic_attributes, stroke_map
from .eszsl import eszsl_accuracy, eszsl_fit, eszsl_scores
from .metrics import (GeneralisedResult, choose_calibration, class_scores, generalised, generalised_scores,
                      harmonic_mean, per_class_accuracy, predict, seen_unseen_curve, unseen_accuracy)
from .model import AttributeEmbedding, signatures
from .shapes import compositional_shapes, render_shapes, shape_classes
from .train import SeenClasses, seen_class_domain, train_zero_shot

DATASETS = {"digits": digit_strokes, "shapes": compositional_shapes}


def load_zero_shot(name: str, device: str | None = None) -> ZeroShotData:
    """A zero-shot dataset by name (``"digits"`` or ``"shapes"``), on ``device``. Splits are fixed.
    An unknown name is a ``KeyError`` that lists the known ones, as ``load_domain``'s."""
    if not isinstance(name, str):
        raise TypeError(f"load_zero_shot: name must be a dataset name, one of {sorted(DATASETS)}, got {_checks._got(name)}")
    if device is not None:
        device = _checks.device(device, "device", "load_zero_shot")  # before the data are built
    if name not in DATASETS:
        raise KeyError(f"unknown zero-shot dataset {name!r}; known: {sorted(DATASETS)}")
    data = DATASETS[name]()
    return data.to(device) if device is not None else data


__all__ = [
    "AttributeEmbedding", "DAP", "DATASETS", "DIGIT_GLYPHS", "GeneralisedResult", "ZeroShotData", "choose_calibration",
    "class_scores", "compositional_shapes", "digit_strokes", "eszsl_accuracy", "eszsl_fit", "eszsl_scores", "generalised", "generalised_scores", "harmonic_mean",
    "load_zero_shot", "most_distinct_classes", "per_class_accuracy", "predict", "render_shapes", "seen_unseen_curve",
    "SeenClasses", "seen_class_domain", "semantic_attributes", "shape_classes", "signatures", "split_by_class", "stroke_map",
    "train_zero_shot", "unseen_accuracy",
]
