"""Zero-shot data: images of seen classes to train on, unseen classes to test on, and class attributes."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .. import _checks

__all__ = ["ZeroShotData", "most_distinct_classes", "split_by_class"]

TEST_FRACTION = 0.2  # of each seen class's images, held out to measure seen accuracy (generalised ZSL)
SPLIT_SEED = 1234  # splits never change with the training seed
MAX_SUBSETS = 1_000_000  # most_distinct_classes refuses a longer search (a second or two); C(20, 10) is 184,756


@dataclass(frozen=True)
class ZeroShotData:
    """A zero-shot problem with a fixed split.

    Labels are global class ids ``0 … C−1`` everywhere; ``attributes[c]`` is class c's
    attribute vector in [0, 1]. ``x_train`` holds only seen classes; ``x_test_seen`` holds
    held-out images of seen classes (for the generalised setting); ``x_test_unseen`` holds
    every image of the unseen classes. ``validation()`` builds the same kind of problem
    inside the seen classes, holding out ``validation_unseen`` as pseudo-unseen classes:
    hyper-parameters are chosen there, never on the unseen classes.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test_seen: torch.Tensor
    y_test_seen: torch.Tensor
    x_test_unseen: torch.Tensor
    y_test_unseen: torch.Tensor
    attributes: torch.Tensor
    seen: torch.Tensor
    unseen: torch.Tensor
    class_names: tuple[str, ...]
    attribute_names: tuple[str, ...]
    validation_unseen: tuple[int, ...] = ()

    def __post_init__(self):
        C, A = self.attributes.shape
        if len(self.class_names) != C or len(self.attribute_names) != A:
            raise ValueError(
                f"attributes are {C}×{A} but there are {len(self.class_names)} class names "
                f"and {len(self.attribute_names)} attribute names"
            )
        if set(self.seen.tolist()) & set(self.unseen.tolist()):
            raise ValueError("a class cannot be both seen and unseen")
        for split, y, allowed in (("train", self.y_train, self.seen), ("test_seen", self.y_test_seen, self.seen),
                                  ("test_unseen", self.y_test_unseen, self.unseen)):
            if len(y) == 0:
                raise ValueError(f"{self.name}: the {split} split is empty")
            if not torch.isin(y, allowed).all():
                raise ValueError(f"{self.name}: {split} holds labels outside its classes {allowed.tolist()}")

    @property
    def num_classes(self) -> int:
        return self.attributes.shape[0]

    @property
    def num_attributes(self) -> int:
        return self.attributes.shape[1]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def to(self, device: torch.device | str) -> "ZeroShotData":
        """The same problem with every tensor on ``device``."""
        moved = {k: v.to(device) for k, v in vars(self).items() if isinstance(v, torch.Tensor)}
        return replace(self, **moved)

    def with_attributes(self, attributes: torch.Tensor, names: tuple[str, ...]) -> "ZeroShotData":
        """The same images and split described by another attribute matrix (one row per class)."""
        attributes = torch.as_tensor(attributes, dtype=torch.float32, device=self.attributes.device)
        if attributes.ndim != 2 or attributes.shape[0] != self.num_classes:
            raise ValueError(f"expected a ({self.num_classes}, A) attribute matrix, got {tuple(attributes.shape)}")
        if not torch.isfinite(attributes).all():
            raise ValueError("the attribute matrix holds NaN or infinite entries")
        if attributes.numel() and (attributes.min() < 0 or attributes.max() > 1):
            raise ValueError(f"attributes must lie in [0, 1], got values in [{float(attributes.min()):g}, "
                             f"{float(attributes.max()):g}]")
        if isinstance(names, str) or len(names) != attributes.shape[1]:
            raise ValueError(f"expected {attributes.shape[1]} attribute names, one per column, got {names!r}")
        return replace(self, attributes=attributes, attribute_names=tuple(names))

    def validation(self) -> "ZeroShotData":
        """A zero-shot problem inside the seen classes: ``validation_unseen`` play the unseen classes.

        Built from ``x_train`` only, so nothing of the real test splits is touched.
        """
        if not self.validation_unseen:
            raise ValueError(f"{self.name} defines no validation classes")
        held_out = torch.tensor(self.validation_unseen, device=self.seen.device)
        seen = self.seen[~torch.isin(self.seen, held_out)]
        return split_by_class(
            f"{self.name} (validation)", self.x_train, self.y_train, self.attributes, seen, held_out,
            self.class_names, self.attribute_names,
        )


def split_by_class(
    name: str, x: torch.Tensor, y: torch.Tensor, attributes: torch.Tensor, seen: torch.Tensor, unseen: torch.Tensor,
    class_names, attribute_names, validation_unseen: tuple[int, ...] = (),
) -> ZeroShotData:
    """Split labelled images into a zero-shot problem: seen classes → train / test_seen, unseen → test_unseen.

    ``TEST_FRACTION`` of each seen class goes to ``test_seen``, chosen with a fixed generator.
    """
    g = torch.Generator().manual_seed(SPLIT_SEED)
    test_seen = torch.zeros(len(y), dtype=torch.bool)
    for c in seen.tolist():
        members = torch.nonzero(y.cpu() == c).flatten()
        if len(members) < 2:
            raise ValueError(f"{name}: seen class {c} needs at least 2 images, has {len(members)}")
        n_test = max(1, round(TEST_FRACTION * len(members)))
        test_seen[members[torch.randperm(len(members), generator=g)[:n_test]]] = True
    test_seen = test_seen.to(y.device)
    is_unseen = torch.isin(y, unseen)
    train = torch.isin(y, seen) & ~test_seen
    return ZeroShotData(
        name, x[train], y[train], x[test_seen], y[test_seen], x[is_unseen], y[is_unseen],
        attributes.float(), seen.sort().values, unseen.sort().values, tuple(class_names), tuple(attribute_names),
        tuple(validation_unseen),
    )


def most_distinct_classes(attributes: torch.Tensor, k: int, among: list[int] | None = None) -> tuple[int, ...]:
    """The k classes whose attribute vectors are farthest apart: max over subsets of the min pairwise L1 distance.

    A rule for choosing unseen classes from the attribute matrix alone (never from images):
    unseen classes that differ from each other in many attributes can be told apart if the
    attributes are predicted well. Ties go to the first subset in lexicographic order.
    """
    from itertools import combinations
    from math import comb

    _checks.tensor(attributes, "attributes", "most_distinct_classes", ndim=2, floating=None, min_rows=2,
                   what="an attribute matrix (classes, attributes)")
    among = list(range(attributes.shape[0])) if among is None else [
        _checks.integer(c, "among", "most_distinct_classes", minimum=0) for c in (among.tolist() if isinstance(among, torch.Tensor) else among)]
    if any(c >= len(attributes) for c in among) or len(set(among)) != len(among):
        raise ValueError(f"most_distinct_classes: among must name distinct classes in [0, {len(attributes)}), got {among}")
    k = _checks.integer(k, "k", "most_distinct_classes", minimum=2)
    if k > len(among):
        raise ValueError(f"most_distinct_classes: k must be between 2 and {len(among)}, got {k}")
    if comb(len(among), k) > MAX_SUBSETS:
        raise ValueError(f"most_distinct_classes: choosing k={k} of {len(among)} classes means {comb(len(among), k):,} subsets "
                         f"to search, more than {MAX_SUBSETS:,}; narrow among or lower k")
    distance = torch.cdist(attributes.double(), attributes.double(), p=1)
    best = max(combinations(among, k), key=lambda s: min(distance[i, j].item() for i, j in combinations(s, 2)))
    return tuple(best)
