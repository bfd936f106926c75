"""Real handwritten digits (scikit-learn's UCI set) described by a hand-drawn stroke map.

Each digit is drawn by hand as a 5×3 grid of cells, the way a typical UCI writer forms it;
attribute ``(row, column)`` is 1 where the drawing has a stroke. The attributes are
therefore "is there a stroke at the top left?", "... through the middle?" and so on:
parts that a convolutional network can detect in any digit, seen or not.
"""
from __future__ import annotations

import torch

from .. import _checks
from ..data.handwritten import handwritten_digits
from .data import ZeroShotData, most_distinct_classes, split_by_class

__all__ = ["DIGIT_GLYPHS", "SEMANTIC_ATTRIBUTES", "stroke_map", "semantic_attributes", "digit_strokes"]

ROWS = ("top", "upper", "middle", "lower", "bottom")
COLUMNS = ("left", "centre", "right")

# Hand-drawn glyphs, rows top to bottom separated by "/", '#' = stroke.
DIGIT_GLYPHS = {
    0: ".#./#.#/#.#/#.#/.#.",
    1: ".#./.#./.#./.#./.#.",
    2: "##./..#/.#./#../###",
    3: "##./..#/.#./..#/##.",
    4: ".#./#.#/###/.#./.#.",
    5: "###/#../##./..#/##.",
    6: ".#./#../##./#.#/.#.",
    7: "###/..#/.##/.#./.#.",
    8: ".#./#.#/.#./#.#/.#.",
    9: ".#./#.#/.##/..#/.#.",
}

# The abstract alternative: shape properties a person would name first (used to show why they transfer badly).
SEMANTIC_ATTRIBUTES = {
    "closed loop": (0, 6, 8, 9),
    "two loops": (8,),
    "diagonal stroke": (2, 4, 7),
    "mirror symmetric": (0, 1, 8),
    "curved strokes": (0, 2, 3, 5, 6, 8, 9),
    "straight strokes only": (1, 4, 7),
}

NUM_UNSEEN = 5  # half the digits; chance is 20 % among the unseen ones


def stroke_map() -> tuple[torch.Tensor, tuple[str, ...]]:
    """The 10×15 stroke-map attribute matrix and its attribute names ("top left", …)."""
    rows = [[cell == "#" for cell in DIGIT_GLYPHS[d].replace("/", "")] for d in range(10)]
    names = tuple(f"{r} {c}" for r in ROWS for c in COLUMNS)
    return torch.tensor(rows, dtype=torch.float32), names


def semantic_attributes() -> tuple[torch.Tensor, tuple[str, ...]]:
    """The 10×6 matrix of abstract shape properties and their names."""
    matrix = [[digit in members for members in SEMANTIC_ATTRIBUTES.values()] for digit in range(10)]
    return torch.tensor(matrix, dtype=torch.float32), tuple(SEMANTIC_ATTRIBUTES)


def digit_strokes(image_size: int = 16) -> ZeroShotData:
    """Zero-shot digits: the ``NUM_UNSEEN`` = 5 digits with the most distinct stroke maps are unseen.

    Unseen classes come from ``most_distinct_classes`` on the attribute matrix (0, 1, 2, 5, 7);
    the validation split holds out the 2 most distinct of the 5 seen digits (3, 4).
    Images are 1×``image_size``×``image_size`` in [0, 1].
    """
    _checks.integer(image_size, "image_size", "digit_strokes")
    attributes, names = stroke_map()
    unseen = most_distinct_classes(attributes, NUM_UNSEEN)
    seen = [c for c in range(10) if c not in unseen]
    validation = most_distinct_classes(attributes, 2, among=seen)
    x, y = handwritten_digits(image_size)
    return split_by_class(
        "digits", x, y, attributes, torch.tensor(seen), torch.tensor(unseen),
        [str(d) for d in range(10)], names, validation_unseen=validation,
    )
