"""Rendered shapes whose classes are combinations of visual attributes.

A class is (shape, colour, size, fill): 4 × 4 × 2 × 2 = 64 classes, described by 12 binary
attributes (one per value). Each image draws one shape with random position, rotation,
colour shade and background noise, anti-aliased by rendering at 4× and averaging.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from .. import _checks
from .data import ZeroShotData, split_by_class

__all__ = ["SHAPES", "COLOURS", "SIZES", "FILLS", "shape_classes", "render_shapes", "compositional_shapes"]

SHAPES = ("circle", "square", "triangle", "cross")
COLOURS = {"red": (0.90, 0.15, 0.15), "green": (0.15, 0.75, 0.20), "blue": (0.20, 0.35, 0.95), "yellow": (0.95, 0.85, 0.10)}
SIZES = {"small": 3.2, "large": 6.0}  # radius in pixels at 16×16
FILLS = ("filled", "outline")
SUPERSAMPLE = 4
OUTLINE_WIDTH = 1.2  # pixels
TRAIN_PER_CLASS, TEST_SEEN_PER_CLASS, UNSEEN_PER_CLASS = 40, 10, 30
RENDER_SEED = 2024


def shape_classes() -> tuple[list[tuple[str, str, str, str]], torch.Tensor, tuple[str, ...]]:
    """Every (shape, colour, size, fill) combination, its 64×12 attribute matrix, and the attribute names."""
    values = (SHAPES, tuple(COLOURS), tuple(SIZES), FILLS)
    classes = list(itertools.product(*values))
    names = tuple(v for group in values for v in group)
    matrix = torch.tensor([[name in combo for name in names] for combo in classes], dtype=torch.float32)
    return classes, matrix, names


def _inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Mask of the unit shape in rotated, radius-normalised coordinates (v points down)."""
    if shape == "circle":
        return u**2 + v**2 <= 1
    if shape == "square":
        return np.maximum(abs(u), abs(v)) <= 0.8
    if shape == "triangle":  # equilateral, circumradius 1, apex up: three half-planes at distance 1/2
        return np.all([u * math.cos(a) + v * math.sin(a) <= 0.5 for a in np.radians([90, 210, 330])], axis=0)
    if shape == "cross":
        return ((abs(u) <= 0.3) & (abs(v) <= 1)) | ((abs(v) <= 0.3) & (abs(u) <= 1))
    raise ValueError(f"unknown shape {shape!r}; known: {SHAPES}")


def _mask(shape: str, fill: str, radius: float, centre, angle: float, size: int) -> np.ndarray:
    side = size * SUPERSAMPLE
    grid = (np.arange(side) + 0.5) / SUPERSAMPLE
    py, px = np.meshgrid(grid - centre[1], grid - centre[0], indexing="ij")
    c, s = math.cos(angle), math.sin(angle)
    u, v = (c * px + s * py) / radius, (-s * px + c * py) / radius
    mask = _inside(shape, u, v)
    inner = radius - OUTLINE_WIDTH
    if fill == "outline" and inner > 0:  # remove the shape shrunk by the stroke width
        mask &= ~_inside(shape, u * radius / inner, v * radius / inner)
    return mask.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3))


def _combos(value: object, name: str, where: str) -> None:
    """A list of (shape, colour, size, fill) tuples, each value one of ``SHAPES``, ``COLOURS``, ``SIZES``, ``FILLS``."""
    groups = (SHAPES, tuple(COLOURS), tuple(SIZES), FILLS)
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{where}: {name} must be a list of (shape, colour, size, fill) tuples, got {_checks._got(value)}")
    for i, combo in enumerate(value):
        if (not isinstance(combo, (tuple, list)) or len(combo) != 4
                or not all(isinstance(v, str) and v in group for v, group in zip(combo, groups))):
            raise ValueError(f"{where}: {name} must hold (shape, colour, size, fill) tuples with values from {groups}, "
                             f"got {combo!r} at index {i}")


def render_shapes(combos: list[tuple[str, str, str, str]], size: int = 16, seed: int = RENDER_SEED) -> torch.Tensor:
    """Render one image per (shape, colour, size, fill) in ``combos``: (N, 3, size, size) in [0, 1]."""
    _combos(combos, "combos", "render_shapes")
    size = _checks.integer(size, "size", "render_shapes")
    rng = np.random.default_rng(_checks.integer(seed, "seed", "render_shapes", minimum=0))
    images = np.empty((len(combos), 3, size, size), dtype=np.float32)
    scale = size / 16
    for i, (shape, colour, size_name, fill) in enumerate(combos):
        radius = SIZES[size_name] * scale * rng.uniform(0.92, 1.08)
        centre = rng.uniform(radius + 0.3, size - radius - 0.3, 2) if size - 2 * radius > 0.6 else np.full(2, size / 2)
        angle = rng.uniform(-0.3, 0.3)
        coverage = _mask(shape, fill, radius, centre, angle, size)
        rgb = np.clip(np.array(COLOURS[colour]) + rng.normal(0, 0.06, 3), 0, 1)
        background = rng.uniform(0.05, 0.3) + rng.normal(0, 0.03, (3, size, size))
        images[i] = np.clip(coverage * rgb[:, None, None] + (1 - coverage) * background, 0, 1)
    return torch.from_numpy(images)


def compositional_shapes(image_size: int = 16) -> ZeroShotData:
    """Zero-shot shapes: the 16 combinations with (shape + colour + size + fill) ≡ 0 (mod 4) are unseen.

    That rule leaves every attribute value in 12 seen classes and 4 unseen ones, so each
    unseen class is a new combination of values all seen in training. The validation split
    holds out the 16 seen combinations with index sum ≡ 1 (mod 4).
    """
    _checks.integer(image_size, "image_size", "compositional_shapes")
    classes, attributes, names = shape_classes()
    groups = (SHAPES, tuple(COLOURS), tuple(SIZES), FILLS)
    index_sum = [sum(group.index(value) for group, value in zip(groups, combo)) % 4 for combo in classes]
    unseen = [c for c, r in enumerate(index_sum) if r == 0]
    seen = [c for c, r in enumerate(index_sum) if r != 0]
    validation = tuple(c for c, r in enumerate(index_sum) if r == 1)
    per_class = {c: (UNSEEN_PER_CLASS if c in unseen else TRAIN_PER_CLASS + TEST_SEEN_PER_CLASS) for c in range(len(classes))}
    labels = torch.tensor([c for c in range(len(classes)) for _ in range(per_class[c])])
    x = render_shapes([classes[c] for c in labels.tolist()], image_size)
    class_names = [" ".join((size, colour, fill, shape)) for shape, colour, size, fill in classes]
    return split_by_class(
        "shapes", x, labels, attributes, torch.tensor(seen), torch.tensor(unseen),
        class_names, names, validation_unseen=validation,
    )
