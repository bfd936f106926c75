"""A domain: labelled train and test tensors that live on one device."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .. import _checks

__all__ = ["Domain", "check_same_shape"]


@dataclass(frozen=True)
class Domain:
    """One domain of a family, split once and for all into train and test.

    ``x_*`` are float tensors (images ``N×C×H×W`` in ``[0, 1]``, or points ``N×2``);
    ``y_*`` are int64 class labels in ``[0, num_classes)``.
    """

    name: str
    family: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    def __post_init__(self) -> None:
        for argument in ("name", "family"):
            if not isinstance(getattr(self, argument), str):
                raise TypeError(f"Domain: {argument} must be a str, got {getattr(self, argument)!r}")
        where = f"Domain({self.name!r})"
        _checks.integer(self.num_classes, "num_classes", where)
        names = ("x_train", "y_train", "x_test", "y_test")
        tensors = [_checks.tensor(getattr(self, n), n, where, floating=None) for n in names]
        if len({t.device for t in tensors}) > 1:
            raise ValueError(f"{where}: {', '.join(names[:3])} and {names[3]} must be on one device, got "
                             f"{', '.join(str(t.device) for t in tensors)}")
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            _checks.tensor(x, f"x_{split}", where, floating=True, what="inputs (N, ...)")
            if x.ndim < 2:
                raise ValueError(f"{where}: x_{split} must be inputs (N, ...) with one row per example and at least 2 "
                                 f"dimensions, got shape {tuple(x.shape)}")
            if len(x) == 0:
                raise ValueError(f"{where}: x_{split} must not be empty (domain {self.name!r} has an empty {split} split)")
            _checks.labels(y, f"y_{split}", where)
            if len(x) != len(y):
                raise ValueError(f"{where}: x_{split} and y_{split} must have one row per example each: "
                                 f"{len(x)} {split} inputs but {len(y)} labels")
            if y.min() < 0 or y.max() >= self.num_classes:
                wrong = sorted(set(y[(y < 0) | (y >= self.num_classes)].tolist()))[:10]
                raise ValueError(f"{where}: y_{split} must lie in [0, num_classes) = [0, {self.num_classes}), "
                                 f"got class(es) {wrong}")
            if not (bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all())):  # a finite sum: all finite
                raise ValueError(f"{where}: x_{split} must be finite, got {int((~torch.isfinite(x)).sum())} NaN or "
                                 "infinite value(s)")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(
                f"{where}: x_train and x_test must hold inputs of one shape, got {tuple(self.x_train.shape[1:])} "
                f"and {tuple(self.x_test.shape[1:])}: they differ in shape"
            )

    @classmethod
    def unlabelled(cls, name: str, images: torch.Tensor) -> "Domain":
        """Images without labels, as a domain for ``fit`` and a method with ``uses_source_labels = False``
        (self-taught learning's autoencoder): the labels are placeholder zeros (one class) that never reach
        the method, and the test split is the training split."""
        _checks.tensor(images, "images", "Domain.unlabelled", min_rows=1, what="a non-empty batch of inputs (N, ...)")
        if images.ndim < 2:
            raise ValueError(f"Domain.unlabelled: images must be a non-empty batch of inputs (N, ...), got shape "
                             f"{tuple(images.shape)}")
        labels = torch.zeros(len(images), dtype=torch.int64, device=images.device)
        return cls(name, "unlabelled", images, labels, images, labels, 1)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, e.g. ``(3, 16, 16)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    def to(self, device: torch.device | str) -> "Domain":
        """A copy of this domain with every tensor on ``device`` (a test split that is the train split
        stays one tensor there too)."""
        moved = {name: getattr(self, name).to(device) for name in ("x_train", "y_train")}
        for split, train in (("x_test", "x_train"), ("y_test", "y_train")):
            tensor = getattr(self, split)
            moved[split] = moved[train] if tensor is getattr(self, train) else tensor.to(device)
        return replace(self, **moved)

    def with_classes(self, classes: list[int] | tuple[int, ...]) -> "Domain":
        """Only the examples of ``classes``, relabelled ``0 … len(classes)-1`` in that order
        (e.g. digits 5–9 as a new five-class task)."""
        classes = list(classes)
        bad = [c for c in classes if not 0 <= c < self.num_classes]
        if len(classes) < 2 or len(set(classes)) != len(classes) or bad:
            raise ValueError(f"need at least two distinct classes in [0, {self.num_classes}), got {classes}")
        lookup = torch.full((self.num_classes,), -1, dtype=torch.int64, device=self.device)
        lookup[classes] = torch.arange(len(classes), device=self.device)
        keep_train, keep_test = lookup[self.y_train] >= 0, lookup[self.y_test] >= 0
        return replace(self, name=f"{self.name} {classes}", x_train=self.x_train[keep_train],
                       y_train=lookup[self.y_train[keep_train]], x_test=self.x_test[keep_test],
                       y_test=lookup[self.y_test[keep_test]], num_classes=len(classes))

    def with_proportions(self, proportions, seed: int = 0) -> "Domain":
        """The same domain under a **label shift**: each split subsampled so that class ``c`` makes up
        ``proportions[c]`` of it (normalised to sum to 1), with as many examples as the rarest requirement
        allows; the look of each class, ``p(x | y)``, is unchanged. A class with proportion 0 is left out
        (its label stays in the label space). Drawn with ``seed``."""
        try:
            p = torch.as_tensor(proportions, dtype=torch.float64).flatten()
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(f"proportions must be one number per class ({self.num_classes}), got {proportions!r}") from error
        if p.shape != (self.num_classes,):
            raise ValueError(f"proportions must give one value per class ({self.num_classes}), got {len(p)}")
        if not torch.isfinite(p).all() or (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"proportions must be finite, non-negative and not all zero, got {p.tolist()}")
        p = p / p.sum()
        g = torch.Generator().manual_seed(_checks.integer(seed, "seed", "with_proportions", minimum=None))
        splits = {}
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            counts = torch.bincount(y.cpu(), minlength=self.num_classes).double()
            size = min(counts[c].item() / p[c].item() for c in range(self.num_classes) if p[c] > 0)
            keep = []
            for c in range(self.num_classes):
                members = torch.nonzero(y.cpu() == c).flatten()
                keep.append(members[torch.randperm(len(members), generator=g)[: int(round(size * p[c].item()))]])
            index = torch.cat(keep).sort().values.to(self.device)
            if len(index) == 0:
                raise ValueError(f"domain {self.name!r}: the {split} split keeps no example at proportions {p.tolist()}")
            splits[f"x_{split}"], splits[f"y_{split}"] = x[index], y[index]
        return replace(self, name=f"{self.name} (label shift)", **splits)

    def __repr__(self) -> str:
        return (
            f"Domain({self.name!r}, train={len(self.x_train)}, test={len(self.x_test)}, "
            f"input={self.input_shape}, classes={self.num_classes}, device={self.device})"
        )


def check_same_shape(source: Domain, target: Domain) -> None:
    """Raise a clear error when two domains cannot share one network."""
    for argument, value in (("source", source), ("target", target)):
        if not isinstance(value, Domain):
            raise TypeError(f"check_same_shape: {argument} must be a Domain, got {type(value).__name__}")
    if source.input_shape != target.input_shape:
        raise ValueError(
            f"check_same_shape: source {source.name!r} has inputs of shape {source.input_shape} but target "
            f"{target.name!r} has {target.input_shape}; load both from one family at one "
            "image size"
        )
    if source.num_classes != target.num_classes:
        raise ValueError(
            f"check_same_shape: source {source.name!r} has {source.num_classes} classes but target "
            f"{target.name!r} has {target.num_classes}"
        )
