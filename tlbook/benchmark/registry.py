"""The methods the benchmark knows, by name: how each is built and what it sees of the target.

Each entry builds a fresh method for a (source, target) pair and a seed, with the configuration of its
chapter on the benchmark's network (``network``); nothing here was tuned on target labels.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

from .. import _checks
from ..data import Domain, labelled_subset
from ..methods import CDAN, CMD, DAN, DANN, DDC, DSN, MCC, SDT, DeepCORAL, Method, PixelDA, SourceOnly, TargetOnly, source_soft_labels
from ..nn import MLP, Classifier, PixelGenerator, adaptation_classifier
from ..schedules import dann_lambda
from ..train import fit
from ._args import UnknownName, flag, seed as _seed

__all__ = ["METHODS", "OUTSIDE_THE_BENCHMARK", "TRAINING", "Entry", "UnknownName", "network", "make_method", "check_inputs",
           "check_names", "check_seeds"]

#: The optimiser every benchmark run uses (chapter 2's recipe; the weights of the last step are reported).
TRAINING = dict(optimizer="adam", lr=1e-3)

#: What a method sees of the target domain, besides its unlabelled images.
UNSUPERVISED, FEW_LABELS, ORACLE, NONE = "unlabelled target", "5 labelled target images per class", "all target labels (oracle)", "nothing of the target"
SDT_LABELS_PER_CLASS = 5
ACTIVATIONS = ("relu", "sigmoid", "tanh")  # the bottlenecks ``network`` builds


def network(family: str, num_classes: int, bottleneck_activation: str = "relu", image_size: int = 16) -> Classifier:
    """The chapters' network for a domain family: the digit CNN with a 64-unit bottleneck and
    fc100-fc100 (chapter 2; at the domains' size, 16 pixels for the book's, 28 or 32 for the real digit
    sets), a small MLP for the 2-D toy domains, or, for Office's photographs, an ImageNet-pre-trained
    ResNet-50 with a 256-unit bottleneck and a linear head (the recipe of the papers; needs a network)."""
    where = "network"
    _checks.choice(family, "family", where, ("digits", "toy", "office"))
    _checks.integer(num_classes, "num_classes", where, minimum=2)
    _checks.choice(bottleneck_activation, "bottleneck_activation", where, ACTIVATIONS)
    _checks.integer(image_size, "image_size", where)
    if family == "digits":
        return adaptation_classifier(bottleneck_activation, num_classes, image_size)
    if family == "office":
        from ..finetune import torchvision_backbone

        return Classifier(torchvision_backbone("resnet50"), num_classes, bottleneck=256,
                          bottleneck_activation=bottleneck_activation, hidden=())
    return Classifier(MLP(2, (32, 32)), num_classes, bottleneck=16, bottleneck_activation=bottleneck_activation, hidden=(16, 16))


@dataclass(frozen=True)
class Entry:
    """One benchmark method, declared once: its class and the constructor options of its chapter (the
    recipe), on the chapters' network. Chapters build it with ``METHODS[name].build(source)``, an
    ablation with the options it changes (``build(source, layer="bottleneck")``); ``str(entry)`` shows
    the constructor call.

    - ``activation``: the bottleneck's activation of the network it adapts (CMD needs a bounded one);
    - ``images_only``: it needs image domains, and its constructor takes their shape (a decoder or a
      generator of pixels);
    - ``prepare(source, target, seed, steps)``: further arguments made by training first (SDT starts
      from a source-only network); ``None`` for every method that trains from scratch.
    """

    method: type[Method]
    options: dict = field(default_factory=dict)
    activation: str = "relu"
    images_only: bool = False
    prepare: Callable[[Domain, Domain, int, int], dict] | None = None
    target_data: str = UNSUPERVISED  # what of the target it trains on, unless it is an oracle (``Method.oracle``)

    def __post_init__(self) -> None:
        where = "Entry"
        if not (isinstance(self.method, type) and issubclass(self.method, Method)):
            raise TypeError(f"{where}: method must be a Method class (e.g. DANN), got {_checks._got(self.method)}")
        if not isinstance(self.options, dict) or not all(isinstance(k, str) for k in self.options):
            raise TypeError(f"{where}: options must be a dict of {self.method.__name__}'s options by name, "
                            f"got {_checks._got(self.options)}")
        unknown = set(self.options) - _option_names(self.method)
        if unknown:
            raise ValueError(f"{where}: options has {', '.join(sorted(unknown))}, which {self.method.__name__} does not take; "
                             f"its options: {', '.join(sorted(_option_names(self.method)))}")
        _checks.choice(self.activation, "activation", where, ACTIVATIONS)
        flag(self.images_only, "images_only", where)
        if self.prepare is not None and not callable(self.prepare):
            raise TypeError(f"{where}: prepare must be None or a function (source, target, seed, steps) -> options, "
                            f"got {_checks._got(self.prepare)}")
        _checks.choice(self.target_data, "target_data", where, (UNSUPERVISED, FEW_LABELS, ORACLE, NONE))

    @property
    def sees(self) -> str:
        """What of the target it trains on: the table marks everything but unlabelled images."""
        return ORACLE if self.oracle else self.target_data

    @property
    def oracle(self) -> bool:
        """It trains on every target label (``Method.oracle``, the one place that says so)."""
        return self.method.oracle

    def build(self, source: Domain, network: Classifier | None = None, *, activation: str | None = None,
              **changes) -> Method:
        """A fresh method with the recipe's options, on ``network`` (default: the chapters' network for
        ``source``, its bottleneck ending in ``activation``, default the entry's), with ``changes`` to the
        options (an ablation). Methods with a ``prepare`` step are built by ``make_method``, which trains
        what they start from."""
        if network is not None and activation is not None:
            raise ValueError("give a network or the activation of the chapters' network, not both")
        if self.prepare is not None:
            raise ValueError(f"{self.method.__name__} starts from a trained network: build it with make_method(name, "
                             "source, target, seed, steps)")
        known = _option_names(self.method)
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"{self.method.__name__} has no option {', '.join(sorted(unknown))}; "
                            f"its options: {', '.join(sorted(known))}")
        return self._construct(source, network, changes, activation)

    def _construct(self, source: Domain, network: Classifier | None, changes: dict,
                   activation: str | None = None) -> Method:
        network = network if network is not None else _net(source, activation or self.activation)
        options = {**self._image_arguments(source), **self.options, **changes}
        try:
            return self.method(network, **options)
        except TypeError as error:  # an option the class fixes itself (DDC's ``layers`` comes from its ``layer``)
            raise TypeError(f"{self.method.__name__} cannot take these options {sorted(changes)}: {error}") from None

    def _image_arguments(self, source: Domain) -> dict:
        if not self.images_only:
            return {}
        if len(source.input_shape) != 3:
            raise ValueError(f"{self.method.__name__} needs image domains (channels, height, width); "
                             f"{source.name!r} has inputs of shape {source.input_shape}")
        arguments = {"image_shape": source.input_shape}
        if self.method is PixelDA:  # chapter 3's small generator: the default one is slow on a CPU
            channels, size, _ = source.input_shape
            arguments["generator"] = PixelGenerator(channels, channels, size, width=16, blocks=1)
        return arguments

    def __str__(self) -> str:
        options = [f"{k}={_show(v)}" for k, v in self.options.items()]
        network = "network" if self.activation == "relu" else f"network (a {self.activation} bottleneck)"
        if self.prepare is not None:
            network = "a source-only network trained first, its soft labels, a few labelled target images"
        shape = ["image_shape"] if self.images_only else []
        if self.method is PixelDA:
            shape.append("generator=PixelGenerator(width=16, blocks=1)")
        return f"{self.method.__name__}({', '.join([network, *shape, *options])})"


def _option_names(cls: type) -> set[str]:
    """The options (parameters with a default) a method's constructor takes, those it hands on to its base
    class included."""
    parameters = inspect.signature(cls.__init__).parameters
    names = {n for n, p in parameters.items() if p.default is not p.empty}
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        names |= set().union(*(_option_names(base) for base in cls.__bases__ if base is not Method and base is not object))
    return names


def _show(value: object) -> str:
    return getattr(value, "__name__", None) or repr(value)


def _net(source: Domain, activation: str = "relu") -> Classifier:
    size = source.input_shape[-1] if len(source.input_shape) == 3 else 16
    return network(source.family, source.num_classes, activation, size)


def _sdt_start(source: Domain, target: Domain, seed: int, steps: int) -> dict:
    """SDT as in chapter 3: start from a source-only network (trained here for the same steps, on the
    same seed), soft labels from it at τ = 2, five labelled target training images per class."""
    start = SourceOnly(_net(source))
    fit(start, source, None, steps=steps, batch_size=64, seed=seed, eval_sets={}, progress_bar=False, **TRAINING)
    soft = source_soft_labels(start.classifier, source, temperature=2.0)
    return dict(network=start.classifier, labelled_target=labelled_subset(target, SDT_LABELS_PER_CLASS, seed),
                soft_labels=soft, seed=seed)


#: name -> entry. Chapter 2's weights and layers for the discrepancy methods; chapter 3 and 4's for the others;
#: chapter 7's for CDAN and MCC.
METHODS: dict[str, Entry] = {
    "source-only": Entry(SourceOnly, target_data=NONE),
    "target-only": Entry(TargetOnly),
    "ddc": Entry(DDC, dict(weight=0.25, schedule=dann_lambda)),
    "dan": Entry(DAN, dict(schedule=dann_lambda)),
    "deep-coral": Entry(DeepCORAL, dict(weight=1.0)),
    "cmd": Entry(CMD, dict(weight=0.1, schedule=dann_lambda), activation="sigmoid"),
    "dann": Entry(DANN),
    "cdan": Entry(CDAN),
    "cdan-e": Entry(CDAN, dict(entropy=True)),
    "mcc": Entry(MCC),
    "dsn": Entry(DSN, images_only=True),
    "pixelda": Entry(PixelDA, dict(content_weight=1.0), images_only=True),
    "sdt": Entry(SDT, prepare=_sdt_start, target_data=FEW_LABELS),
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


def check_names(names: list[str], known: dict | list, kind: str, where: str = "") -> None:
    """A clear error listing the known names when ``names`` (a list of ``kind``) is empty or holds a name
    that is unknown or given twice (each name is one run: twice would train and report it twice).
    ``where``: the function whose argument it is, for the message."""
    at = f"{where}: " if where else ""
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{at}kind must name what the names are (e.g. 'method'), got {_checks._got(kind)}")
    kinds = f"{kind[:-1]}ies" if kind.endswith("y") else f"{kind}s"
    if not isinstance(known, (dict, list, tuple)):
        raise TypeError(f"{at}known must be the dict or list of known {kinds}, got {_checks._got(known)}")
    if isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple)):
        raise TypeError(f"{at}{kinds} must be a list of names, got {_checks._got(names)}")
    strange = [n for n in names if not isinstance(n, str)]
    if strange:
        raise TypeError(f"{at}{kinds} must be names (strings), got {strange[0]!r} among them")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UnknownName(f"{at}unknown {kind} {', '.join(map(repr, unknown))}; known {kinds}: {', '.join(known)}")
    if not names:
        raise ValueError(f"{at}no {kinds} given; known {kinds}: {', '.join(known)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{at}{kinds} are given more than once: {repeated}")


def check_seeds(seeds, where: str = "") -> list[int]:
    """At least one seed, none twice (each seed is one run), each an integer in [0, 2³²); returns them as ints."""
    at = f"{where}: " if where else ""
    if isinstance(seeds, (str, bytes, dict, set, frozenset)) or not hasattr(seeds, "__len__") or not hasattr(seeds, "__iter__"):
        raise TypeError(f"{at}seeds must be a list of non-negative integers, got {_checks._got(seeds)}")
    if not len(seeds):
        raise ValueError(f"{at}no seeds given; seeds must be a list of non-negative integers, one per run")
    seeds = [_seed(s, "seeds", where or "check_seeds") for s in seeds]
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"{at}seeds {repeated} are given more than once: each seed is one run")
    return seeds


def check_inputs(name: str, source: Domain) -> None:
    """A clear error when method ``name`` cannot run on the domain's inputs (an image-only method on vectors)."""
    check_names([name], METHODS, "method", "check_inputs")
    if not isinstance(source, Domain):
        raise TypeError(f"check_inputs: source must be a Domain (e.g. load_pair(pair)[0]), got {_checks._got(source)}")
    if METHODS[name].images_only and len(source.input_shape) != 3:
        raise ValueError(f"{name} needs image domains (channels, height, width); {source.name!r} has inputs of shape {source.input_shape}")
    if METHODS[name].images_only and source.family == "office":
        raise ValueError(f"{name} generates or reconstructs whole images, set up here for digit-sized ones; on Office's "
                         f"{source.input_shape[-1]}-pixel photographs use the feature-level methods")


def make_method(name: str, source: Domain, target: Domain, seed: int = 0, steps: int = 600) -> Method:
    """A fresh method ``name`` for the pair (``seed`` and ``steps``: what a method that trains before it
    adapts, SDT, trains its start with)."""
    where = "make_method"
    check_names([name], METHODS, "method", where)
    for role, domain in (("source", source), ("target", target)):
        if not isinstance(domain, Domain):
            raise TypeError(f"{where}: {role} must be a Domain (e.g. from load_pair), got {_checks._got(domain)}")
    _seed(seed, "seed", where)
    _checks.integer(steps, "steps", where)
    check_inputs(name, source)
    entry = METHODS[name]
    if entry.prepare is None:
        return entry.build(source)
    prepared = entry.prepare(source, target, seed, steps)
    return entry._construct(source, prepared.pop("network"), prepared)
