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

    The constructor checks it all (``split_by_class`` builds one for you): ``seen`` and ``unseen``
    are int64 class ids in increasing order, no class in both; each ``y_*`` holds one label per
    input of ``x_*``, from its own classes; every tensor on one device.
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
        where = "ZeroShotData"
        if not isinstance(self.name, str):
            raise TypeError(f"{where}: name must be a string, got {_checks._got(self.name)}")
        num_classes = _check_classes(where, self.attributes, self.seen, self.unseen, self.class_names,
                                     self.attribute_names, self.validation_unseen, increasing=True)
        tensors = {k: v for k, v in vars(self).items() if isinstance(v, torch.Tensor)}
        elsewhere = [k for k, v in tensors.items() if v.device != self.attributes.device]
        if elsewhere:
            raise ValueError(f"{where}: every tensor must be on one device; attributes is on {self.attributes.device}, "
                             f"{elsewhere[0]} on {tensors[elsewhere[0]].device}")
        shape = None
        for split, allowed, kind in (("train", self.seen, "seen"), ("test_seen", self.seen, "seen"),
                                     ("test_unseen", self.unseen, "unseen")):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            _inputs(x, f"x_{split}", where)
            _checks.labels(y, f"y_{split}", where, min_rows=1)
            _checks.same_rows(x, y, (f"x_{split}", f"y_{split}"), where)
            _checks.labels(y, f"y_{split}", where, num_classes=num_classes)
            outside = y[~torch.isin(y, allowed)].unique().tolist()
            if outside:
                raise ValueError(f"{where}: y_{split} must hold only the {kind} classes {allowed.tolist()}, "
                                 f"got class(es) {outside[:10]}")
            if shape is not None and x.shape[1:] != shape:
                raise ValueError(f"{where}: x_{split} must hold inputs of x_train's shape {tuple(shape)}, "
                                 f"got {tuple(x.shape[1:])}")
            shape = x.shape[1:]

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
        device = _checks.device(device, "device", "ZeroShotData.to")
        moved = {k: v.to(device) for k, v in vars(self).items() if isinstance(v, torch.Tensor)}
        return replace(self, **moved)

    def with_attributes(self, attributes: torch.Tensor, names: tuple[str, ...]) -> "ZeroShotData":
        """The same images and split described by another attribute matrix (one row per class)."""
        attributes = torch.as_tensor(attributes, dtype=torch.float32, device=self.attributes.device)
        _attribute_matrix(attributes, "attributes", "with_attributes", rows=self.num_classes)
        _names(names, "names", "with_attributes", attributes.shape[1], "attribute names, one per column of attributes")
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

    ``TEST_FRACTION`` of each seen class goes to ``test_seen``, chosen with a fixed generator. ``x`` (N, ...)
    and ``y`` (N,) hold every class; ``attributes`` has one row per class; ``seen`` and ``unseen`` are
    disjoint class ids (any order); images of classes in neither are left out. Every seen class needs at
    least 2 images, every unseen class at least one.
    """
    where = "split_by_class"
    if not isinstance(name, str):
        raise TypeError(f"{where}: name must be a string, got {_checks._got(name)}")
    num_classes = _check_classes(where, attributes, seen, unseen, class_names, attribute_names, validation_unseen)
    _inputs(x, "x", where)
    _checks.labels(y, "y", where, min_rows=1)
    _checks.same_rows(x, y, ("x", "y"), where)
    _checks.labels(y, "y", where, num_classes=num_classes)
    devices = {k: v.device for k, v in (("x", x), ("y", y), ("attributes", attributes), ("seen", seen), ("unseen", unseen))}
    if len(set(devices.values())) > 1:
        raise ValueError(f"{where}: x, y, attributes, seen and unseen must be on one device, got {devices}")
    counts = torch.bincount(y.cpu(), minlength=num_classes)
    for kind, classes, least in (("seen", seen, 2), ("unseen", unseen, 1)):
        few = [c for c in classes.tolist() if counts[c] < least]
        if few:
            raise ValueError(f"{where}: every {kind} class needs at least {least} image{'s' * (least > 1)} in y; "
                             f"class(es) {few[:10]} have {counts[few[:10]].tolist()}")
    g = torch.Generator().manual_seed(SPLIT_SEED)
    test_seen = torch.zeros(len(y), dtype=torch.bool)
    for c in seen.tolist():
        members = torch.nonzero(y.cpu() == c).flatten()
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


# --- the checks every zero-shot function shares ------------------------------------------------------------

def _attribute_matrix(value: object, name: str, where: str, *, rows: int | None = None, min_rows: int = 1,
                      scan: bool = True) -> torch.Tensor:
    """Class attributes: a real (C, A) tensor, one row per class (``rows`` of them when given), at least one
    column; with ``scan``, every entry finite and in [0, 1] (the error names the classes that are not)."""
    _checks.tensor(value, name, where, ndim=2, floating=None, min_rows=min_rows,
                   what="an attribute matrix (classes, attributes)")
    if value.is_complex():
        raise TypeError(f"{where}: {name} must be an attribute matrix of a real dtype, got {value.dtype}")
    if rows is not None and len(value) != rows:
        raise ValueError(f"{where}: {name} must be a ({rows}, A) matrix, one row per class, got shape {tuple(value.shape)}")
    if value.shape[1] == 0:
        raise ValueError(f"{where}: {name} must have at least one attribute (column), got shape {tuple(value.shape)}")
    if scan:
        a = value.detach().double()
        bad = ~torch.isfinite(a).all(1)
        if bad.any():
            raise ValueError(f"{where}: {name} must be finite, got NaN or infinite entries for class(es) "
                             f"{torch.nonzero(bad).flatten().tolist()[:10]}")
        bad = ((a < 0) | (a > 1)).any(1)
        if bad.any():
            raise ValueError(f"{where}: {name} must lie in [0, 1], got values in [{a.min().item():g}, {a.max().item():g}] "
                             f"for class(es) {torch.nonzero(bad).flatten().tolist()[:10]}")
    return value


def _class_ids(value: object, name: str, where: str, num_classes: int, *, increasing: bool = False) -> torch.Tensor:
    """Class ids: a non-empty 1-D int64 tensor of distinct rows of the attribute matrix, in ``[0, num_classes)``
    (in increasing order with ``increasing``)."""
    _checks.labels(value, name, where, num_classes=num_classes, min_rows=1)
    if len(value.unique()) != len(value) or (increasing and len(value) > 1 and (value[1:] <= value[:-1]).any()):
        order = "once, in increasing order" if increasing else "once"
        raise ValueError(f"{where}: {name} must list each class {order}, got {value.tolist()[:20]}")
    return value


def _names(value: object, name: str, where: str, count: int, what: str) -> tuple[str, ...]:
    """``count`` strings, one per row or column of the attribute matrix."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{where}: {name} must be a sequence of {count} {what} (strings), got {_checks._got(value)}")
    if len(value) != count:
        raise ValueError(f"{where}: {name} must hold {count} {what}, got {len(value)}")
    return tuple(value)


def _inputs(value: object, name: str, where: str) -> torch.Tensor:
    """A non-empty floating-point batch of inputs (N, ...)."""
    _checks.tensor(value, name, where, min_rows=1, what="a batch of inputs (N, ...)")
    if value.ndim < 2:
        raise ValueError(f"{where}: {name} must be a batch of inputs (N, ...) with at least 2 dimensions, "
                         f"got shape {tuple(value.shape)}")
    return value


def _check_classes(where: str, attributes, seen, unseen, class_names, attribute_names, validation_unseen,
                   increasing: bool = False) -> int:
    """The class description of a zero-shot problem; returns the number of classes."""
    _attribute_matrix(attributes, "attributes", where, min_rows=2)
    num_classes, num_attributes = attributes.shape
    _names(class_names, "class_names", where, num_classes, "class names, one per row of attributes")
    _names(attribute_names, "attribute_names", where, num_attributes, "attribute names, one per column of attributes")
    seen = _class_ids(seen, "seen", where, num_classes, increasing=increasing)
    unseen = _class_ids(unseen, "unseen", where, num_classes, increasing=increasing)
    both = sorted(set(seen.tolist()) & set(unseen.tolist()))
    if both:
        raise ValueError(f"{where}: a class cannot be both seen and unseen, got class(es) {both[:10]} in both")
    if not isinstance(validation_unseen, (tuple, list)):
        raise TypeError(f"{where}: validation_unseen must be a tuple of seen classes, got {_checks._got(validation_unseen)}")
    held_out = [_checks.integer(c, "validation_unseen", where, minimum=0) for c in validation_unseen]
    if len(set(held_out)) != len(held_out) or not set(held_out) <= set(seen.tolist()) or len(held_out) >= len(seen):
        raise ValueError(f"{where}: validation_unseen must name distinct seen classes and leave at least one seen, "
                         f"got {held_out[:20]} for seen classes {seen.tolist()[:20]}")
    return num_classes


def _problem(value: object, name: str, where: str) -> "ZeroShotData":
    if not isinstance(value, ZeroShotData):
        raise TypeError(f"{where}: {name} must be a ZeroShotData (see load_zero_shot), got {_checks._got(value)}")
    return value
