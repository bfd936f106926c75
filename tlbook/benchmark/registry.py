"""The methods the benchmark knows, by name: how each is built and what it sees of the target.

Each entry builds a fresh method for a (source, target) pair and a seed, with the configuration of its
chapter on the benchmark's network (``network``); nothing here was tuned on target labels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..data import Domain, labelled_subset
from ..methods import CMD, DAN, DANN, DDC, DSN, SDT, DeepCORAL, Method, PixelDA, SourceOnly, TargetOnly, source_soft_labels
from ..nn import MLP, Classifier, PixelGenerator, adaptation_classifier
from ..schedules import dann_lambda
from ..train import fit

__all__ = ["METHODS", "OUTSIDE_THE_BENCHMARK", "TRAINING", "Entry", "network", "make_method", "check_inputs", "check_names", "check_seeds"]

#: The optimiser every benchmark run uses (chapter 2's recipe; the weights of the last step are reported).
TRAINING = dict(optimizer="adam", lr=1e-3)

#: What a method sees of the target domain, besides its unlabelled images.
UNSUPERVISED, FEW_LABELS, ORACLE, NONE = "unlabelled target", "5 labelled target images per class", "all target labels (oracle)", "nothing of the target"
SDT_LABELS_PER_CLASS = 5


def network(family: str, num_classes: int, bottleneck_activation: str = "relu", image_size: int = 16) -> Classifier:
    """The chapters' network for a domain family: the digit CNN with a 64-unit bottleneck and
    fc100-fc100 (chapter 2; at the domains' size, 16 pixels for the book's, 28 or 32 for the real digit
    sets), a small MLP for the 2-D toy domains, or, for Office's photographs, an ImageNet-pre-trained
    ResNet-50 with a 256-unit bottleneck and a linear head (the recipe of the papers; needs a network)."""
    if family == "digits":
        return adaptation_classifier(bottleneck_activation, num_classes, image_size)
    if family == "office":
        from ..finetune import torchvision_backbone

        return Classifier(torchvision_backbone("resnet50"), num_classes, bottleneck=256,
                          bottleneck_activation=bottleneck_activation, hidden=())
    if family == "toy":
        return Classifier(MLP(2, (32, 32)), num_classes, bottleneck=16, bottleneck_activation=bottleneck_activation, hidden=(16, 16))
    raise ValueError(f"the benchmark has no network for the {family!r} family; it knows 'digits', 'toy' and 'office'")


@dataclass(frozen=True)
class Entry:
    """One benchmark method: ``build(source, target, seed, steps)`` returns it ready for ``fit``."""

    build: Callable[[Domain, Domain, int, int], Method]
    sees: str = UNSUPERVISED  # what of the target it trains on: the table marks everything but unlabelled images
    images_only: bool = False  # needs image domains (a decoder or a generator of pixels)


def _net(source: Domain, activation: str = "relu") -> Classifier:
    size = source.input_shape[-1] if len(source.input_shape) == 3 else 16
    return network(source.family, source.num_classes, activation, size)


def _pixelda(source: Domain, target: Domain, seed: int, steps: int) -> PixelDA:
    channels, size, _ = source.input_shape  # chapter 3's small generator: the default one is slow on a CPU
    return PixelDA(_net(source), source.input_shape, content_weight=1.0,
                   generator=PixelGenerator(channels, channels, size, width=16, blocks=1))


def _sdt(source: Domain, target: Domain, seed: int, steps: int) -> SDT:
    """SDT as in chapter 3: start from a source-only network (trained here for the same steps, on the
    same seed), soft labels from it at τ = 2, five labelled target training images per class."""
    start = SourceOnly(_net(source))
    fit(start, source, None, steps=steps, batch_size=64, seed=seed, eval_sets={}, progress_bar=False, **TRAINING)
    soft = source_soft_labels(start.classifier, source, temperature=2.0)
    return SDT(start.classifier, labelled_subset(target, SDT_LABELS_PER_CLASS, seed), soft, seed=seed)


#: name -> entry. Chapter 2's weights and layers for the discrepancy methods; chapter 3 and 4's for the others.
METHODS: dict[str, Entry] = {
    "source-only": Entry(lambda s, t, seed, steps: SourceOnly(_net(s)), sees=NONE),
    "target-only": Entry(lambda s, t, seed, steps: TargetOnly(_net(s)), sees=ORACLE),
    "ddc": Entry(lambda s, t, seed, steps: DDC(_net(s), weight=0.25, schedule=dann_lambda)),
    "dan": Entry(lambda s, t, seed, steps: DAN(_net(s), schedule=dann_lambda)),
    "deep-coral": Entry(lambda s, t, seed, steps: DeepCORAL(_net(s), weight=1.0)),
    "cmd": Entry(lambda s, t, seed, steps: CMD(_net(s, "sigmoid"), weight=0.1, schedule=dann_lambda)),
    "dann": Entry(lambda s, t, seed, steps: DANN(_net(s))),
    "dsn": Entry(lambda s, t, seed, steps: DSN(_net(s), s.input_shape), images_only=True),
    "pixelda": Entry(_pixelda, images_only=True),
    "sdt": Entry(_sdt, sees=FEW_LABELS),
}


#: Method classes that no benchmark entry (nor a study, ``studies.py``) builds, and why. A test fails on any
#: other ``Method`` subclass of tlbook that neither builds, so a new method cannot be forgotten here.
OUTSIDE_THE_BENCHMARK: dict[str, str] = {
    "Discrepancy": "the base class of DDC, DAN, Deep CORAL and CMD, which are entries",
    "FineTune": "trains on k labelled target images alone (chapter 1); the benchmark's few-label method is SDT, "
                "which chapter 3 compares with fine-tuning on the same images",
    "Denoising": "pre-trains an autoencoder on unlabelled images (chapter 1's self-taught learning): no target task",
    "SeenClasses": "trains a zero-shot model on seen classes (chapter 5): another problem than domain adaptation",
}


def check_names(names: list[str], known: dict | list, kind: str) -> None:
    """A clear error listing the known names when some of ``names`` are unknown."""
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(f"unknown {kind} {', '.join(map(repr, unknown))}; known {kind}s: {', '.join(known)}")
    if not names:
        raise ValueError(f"no {kind}s given; known {kind}s: {', '.join(known)}")


def check_seeds(seeds) -> None:
    """At least one seed, none twice: each seed is one run."""
    if not len(seeds):
        raise ValueError("no seeds given")
    repeated = sorted({s for s in seeds if list(seeds).count(s) > 1})
    if repeated:
        raise ValueError(f"seeds {repeated} are given more than once: each seed is one run")


def check_inputs(name: str, source: Domain) -> None:
    """A clear error when method ``name`` cannot run on the domain's inputs (an image-only method on vectors)."""
    if METHODS[name].images_only and len(source.input_shape) != 3:
        raise ValueError(f"{name} needs image domains (channels, height, width); {source.name!r} has inputs of shape {source.input_shape}")
    if METHODS[name].images_only and source.family == "office":
        raise ValueError(f"{name} generates or reconstructs whole images, set up here for digit-sized ones; on Office's "
                         f"{source.input_shape[-1]}-pixel photographs use the feature-level methods")


def make_method(name: str, source: Domain, target: Domain, seed: int = 0, steps: int = 600) -> Method:
    """A fresh method ``name`` for the pair (``steps``: the cell's, for methods that pre-train)."""
    check_names([name], METHODS, "method")
    check_inputs(name, source)
    return METHODS[name].build(source, target, seed, steps)
