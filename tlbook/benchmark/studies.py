"""Stored studies: the chapters' grids too heavy to train in a notebook, made by one command.

A study is a pair, a step count and named configurations (a method on a network, a batch size, and for a
semi-supervised method the labelled target images it also sees), each paired with the baseline it is
compared with. ``python -m tlbook.benchmark --study NAME`` trains its
cells with the benchmark's own code (``make_cell``: same seeding, optimiser, evaluation, last-step
weights) and appends them to ``NAME.csv``; the chapters read the copy shipped in ``results/``
(``stored_cells(NAME)``) and re-train one configuration live.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .. import _checks
from ..claims import paired
from .._utils import seed_everything
from ..data import PAIRS, Domain, labelled_subset
from ..finetune import pretrained
from ..experiment import markdown_table, mean_std
from ..methods import CDAN, DANN, DSN, SDT, AdaBN, Method, SourceOnly, source_soft_labels
from ..nn import Classifier, small_digit_classifier
from ._args import flag, path as _path, seed as _seed
from .registry import METHODS, check_names, check_seeds
from .run import Cell, _measures, append_cells, make_cell, read_cells, train_seeded
from .table import _cells, seed_accuracies

__all__ = ["STUDIES", "Config", "Study", "paired_gains", "run_study", "study_cell", "study_table"]


@dataclass(frozen=True)
class Config:
    """One configuration of a study: a fresh method for the study's source domain, its batch size, and the
    baseline it is paired with. A semi-supervised method (chapter 3's SDT) also trains on ``labelled_per_class``
    labelled target training images per class, drawn with the run's seed (``labelled_subset``: images and labels):
    it is built as ``make(source, labelled, seed)``."""

    make: Callable[..., Method]
    batch_size: int = 64
    baseline: str | None = None  # the configuration with the same network and no adaptation
    steps: int | None = None  # its own number of steps (None: the study's); a baseline trains as many as its variants
    start: str | None = None  # a configuration whose trained network (same seed) this one continues; None: fresh weights.
    # Only the classifier's weights carry over (a start's domain classifier, decoder or generator does not).
    labelled_per_class: int | None = None  # labelled target images per class it trains on; None: only unlabelled ones

    def __post_init__(self) -> None:
        if not callable(self.make):
            raise TypeError(f"Config: make must be a function (source domain) -> Method, or (source, labelled, seed) -> "
                            f"Method with labelled_per_class (a fresh one per call), "
                            f"got {_checks._got(self.make)}")
        _checks.integer(self.batch_size, "batch_size", "Config")
        if self.steps is not None:
            _checks.integer(self.steps, "steps", "Config")
        if self.start is not None and (not isinstance(self.start, str) or not self.start):
            raise TypeError(f"Config: start must be the name of another configuration of the study (or None), "
                            f"got {_checks._got(self.start)}")
        if self.baseline is not None and (not isinstance(self.baseline, str) or not self.baseline):
            raise TypeError(f"Config: baseline must be the name of another configuration of the study (or None), "
                            f"got {_checks._got(self.baseline)}")
        if self.labelled_per_class is not None:
            _checks.integer(self.labelled_per_class, "labelled_per_class", "Config")
            if self.start is not None:
                raise ValueError("Config: a configuration with labelled target images starts from its own source model; "
                                 "it cannot also continue another configuration (start)")

    def build(self, source: Domain, target: Domain, seed: int) -> Method:
        """A fresh method of this configuration for the pair; ``seed`` draws its labelled target images, if any."""
        if self.labelled_per_class is None:
            return self.make(source)
        return self.make(source, labelled_subset(target, self.labelled_per_class, seed), seed)


@dataclass(frozen=True)
class Study:
    """A pair, a number of steps, and named configurations, each baseline among them. ``measures``: what each
    cell also measures on its trained model, by name (``MEASURES``: the label-free scores that chapter 7 chooses
    models by, the accuracy by stroke contrast of chapters 3 and 4), for pages that show it for every seed."""

    pair: str
    steps: int
    configs: dict[str, Config]
    measures: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = "Study"
        check_names([self.pair], PAIRS, "pair", where)
        _checks.integer(self.steps, "steps", where)
        _measures(self.measures, where)
        if not isinstance(self.configs, dict) or not self.configs:
            raise TypeError(f"{where}: configs must be a non-empty dict of Configs by name, got {_checks._got(self.configs)}")
        for name, config in self.configs.items():
            if not isinstance(name, str) or not isinstance(config, Config):
                raise TypeError(f"{where}: configs must map names to Configs, got {name!r}: {_checks._got(config)}")
            if config.baseline is not None and config.baseline not in self.configs:
                raise ValueError(f"{where}: configs[{name!r}] has the baseline {config.baseline!r}, not a configuration of the "
                                 f"study ({', '.join(self.configs)})")
            if config.baseline == name:
                raise ValueError(f"{where}: configs[{name!r}] cannot be its own baseline")
            if config.start is not None and (config.start not in self.configs or config.start == name
                                             or self.configs[config.start].start is not None):
                raise ValueError(f"{where}: configs[{name!r}] starts from {config.start!r}, which must be another configuration "
                                 f"of the study that starts from fresh weights ({', '.join(self.configs)})")
            if config.baseline is not None and self.configs[config.baseline].start != config.start:
                raise ValueError(f"{where}: configs[{name!r}] and its baseline {config.baseline!r} must continue the same start "
                                 f"(got {config.start!r} and {self.configs[config.baseline].start!r}): a gain pairs runs of one length")
            if config.baseline is not None and self.steps_of(name) != self.steps_of(config.baseline):
                raise ValueError(f"{where}: configs[{name!r}] trains {self.steps_of(name)} steps and its baseline "
                                 f"{config.baseline!r} {self.steps_of(config.baseline)}: a gain pairs runs of one length")

    def steps_of(self, config: str) -> int:
        """The steps configuration ``config`` trains: its own, or the study's."""
        steps = self.configs[config].steps
        return self.steps if steps is None else steps


def _declared(name: str, activation: str | None = None, **changes) -> Callable[[Domain], Method]:
    """The benchmark's method ``name`` as its chapter declares it (``METHODS``), with an ablation's ``changes``."""
    return lambda source: METHODS[name].build(source, activation=activation, **changes)


def _small(source: Domain, **options) -> Classifier:
    """Chapter 3's digit network for ``source``'s images and classes: 16 and 32 channels, fc100-fc100."""
    channels, size, _ = source.input_shape
    return small_digit_classifier(source.num_classes, in_channels=channels, image_size=size, **options)


def _plain(source: Domain) -> Classifier:
    return _small(source)


def _batch_norm(source: Domain) -> Classifier:  # batch norm after each convolution
    return _small(source, batch_norm=True)


def _shared_code(source: Domain) -> Classifier:  # chapter 4's: a 64-unit bottleneck, DSN's shared code
    return _small(source, bottleneck=64)


def _sdt(**changes) -> Callable[[Domain, tuple[torch.Tensor, torch.Tensor], int], Method]:
    """Chapter 3's SDT (``changes``: an ablation's weights): from the page's source model (chapter 3's digit network
    pre-trained on the source, 1,500 steps, the file the page reads), its soft labels at τ = 2, the labelled images."""
    def make(source: Domain, labelled: tuple[torch.Tensor, torch.Tensor], seed: int) -> Method:
        model = pretrained(source, small_digit_classifier, tag="digitcnn-16-32", progress_bar=False)  # seeds itself
        soft = source_soft_labels(model, source, temperature=2.0)
        seed_everything(seed)  # as on the page: the run's seed is set once the source model is there
        return SDT(copy.deepcopy(model), labelled, soft, seed=seed, **changes)

    return make


STUDIES: dict[str, Study] = {
    # Chapter 2: every configuration its pages compare (the recipes and their ablations) on printed ->
    # handwritten digits at the benchmark's 600 steps, with the label-free scores that chapter 7 chooses by.
    # A configuration that is a benchmark cell too ("ddc") is that cell: the same recipe, seed and code.
    "discrepancy-600": Study(
        pair="synth->handwritten",
        steps=600,
        measures=("label-free scores",),
        configs={
            "source-only": Config(_declared("source-only")),
            "ddc": Config(_declared("ddc"), baseline="source-only"),
            "ddc-bottleneck": Config(_declared("ddc", layer="bottleneck"), baseline="source-only"),
            "dan": Config(_declared("dan"), baseline="source-only"),
            "dan-one-layer": Config(_declared("dan", layers=["fc2"]), baseline="source-only"),
            "dan-one-kernel": Config(_declared("dan", multipliers=[1.0]), baseline="source-only"),
            "deep-coral": Config(_declared("deep-coral"), baseline="source-only"),
            "source-only-sigmoid": Config(_declared("source-only", activation="sigmoid")),
            "cmd": Config(_declared("cmd"), baseline="source-only-sigmoid"),
            "cmd-relu": Config(_declared("cmd", activation="relu"), baseline="source-only-sigmoid"),
            "cmd-weight-1": Config(_declared("cmd", weight=1.0), baseline="source-only-sigmoid"),
        },
    ),
    # Chapters 3 and 4: DANN and DSN on printed -> handwritten digits at 2,000 steps (the recipe rule: twice the
    # steps source-only needs to settle on the source), with the baselines that keep the gains honest.
    "adaptation-2000": Study(
        pair="synth->handwritten",
        steps=2000,
        configs={
            "source-only": Config(lambda source: SourceOnly(_plain(source))),
            "dann": Config(lambda source: DANN(_plain(source)), baseline="source-only"),
            "source-only-bn": Config(lambda source: SourceOnly(_batch_norm(source))),
            "adabn": Config(lambda source: AdaBN(_batch_norm(source)), baseline="source-only-bn"),
            "dann-domain-bn": Config(lambda source: DANN(_batch_norm(source), domain_batch_norm=True), baseline="source-only-bn"),
            "dann-domain-bn-lambda-0": Config(lambda source: DANN(_batch_norm(source), domain_batch_norm=True, weight=0.0),
                                              baseline="source-only-bn"),
            "source-only-shared-code": Config(lambda source: SourceOnly(_shared_code(source)), batch_size=32),
            "dsn": Config(lambda source: DSN(_shared_code(source), source.input_shape), batch_size=32,
                          baseline="source-only-shared-code"),
            "dsn-no-difference": Config(lambda source: DSN(_shared_code(source), source.input_shape, difference_weight=0.0),
                                        batch_size=32,
                                        baseline="source-only-shared-code"),
        },
    ),
    # Chapters 3 and 4 on the photo-blended pair: DANN, PixelDA and DSN with their source-only baselines, each at the
    # steps and batch of its page, and every model's target-test accuracy by stroke contrast (where a method helps).
    "blended-contrast": Study(
        pair="handwritten->handwritten-m",
        steps=800,
        measures=("accuracy by contrast",),
        configs={
            "source-only": Config(lambda source: SourceOnly(_plain(source))),
            "dann": Config(lambda source: DANN(_plain(source)), baseline="source-only"),
            "source-only-1000": Config(lambda source: SourceOnly(_plain(source)), batch_size=32, steps=1000),
            "pixelda": Config(lambda source: METHODS["pixelda"].build(source, _plain(source)), batch_size=32, steps=1000,
                              baseline="source-only-1000"),
            "source-only-shared-code": Config(lambda source: SourceOnly(_shared_code(source)), batch_size=32, steps=400),
            "dsn": Config(lambda source: DSN(_shared_code(source), source.input_shape), batch_size=32, steps=400,
                          baseline="source-only-shared-code"),
        },
    ),
    # Chapter 7's self-training: Deep CORAL's networks (its benchmark recipe, 600 steps) trained 300 steps more with
    # Deep CORAL's objective or with MCC's, each continuation from the start of its seed. Four seeds: three cannot
    # separate MCC's gain from the seed-to-seed spread of the continuations.
    "self-training": Study(
        pair="synth->handwritten",
        steps=300,
        configs={
            "deep-coral": Config(_declared("deep-coral"), steps=600),
            "deep-coral-more": Config(_declared("deep-coral"), start="deep-coral"),
            "mcc": Config(_declared("mcc"), start="deep-coral", baseline="deep-coral-more"),
        },
    ),
    # Chapter 3's SDT on the photo-blended pair, with one or five labelled target images per class, and its two
    # ablations at five (no soft labels, no confusion). The page fine-tunes on the same images live (a short run)
    # and pairs each seed with these cells.
    "few-labels": Study(
        pair="handwritten->handwritten-m",
        steps=400,
        configs={
            "sdt-k1": Config(_sdt(), labelled_per_class=1),
            "sdt-k5": Config(_sdt(), labelled_per_class=5),
            "sdt-k5-no-soft-labels": Config(_sdt(soft_weight=0.0), labelled_per_class=5),
            "sdt-k5-no-confusion": Config(_sdt(confusion_weight=0.0), labelled_per_class=5),
        },
    ),
    # Chapter 7: CDAN and CDAN+E on the same pair, steps, network and layer as the DANN of "adaptation-2000", which
    # they are compared with seed by seed (its cells are read, not trained again). The backbone's 512 features
    # times 10 classes exceed 4,096, so the map is the randomised one (1,024 outputs). Its source-only baseline is
    # the other study's configuration, trained again with today's code so that each gain pairs runs of one code.
    "conditional-2000": Study(
        pair="synth->handwritten",
        steps=2000,
        configs={
            "source-only": Config(lambda source: SourceOnly(_plain(source))),
            "cdan": Config(lambda source: CDAN(_plain(source), layer="backbone"), baseline="source-only"),
            "cdan-e": Config(lambda source: CDAN(_plain(source), layer="backbone", entropy=True), baseline="source-only"),
        },
    ),
}


def run_study(name: str, seeds: Sequence[int], results: str | Path, configs: Sequence[str] | None = None, *,
              device: torch.device | str = "cpu", progress_bar: bool = True) -> list[Cell]:
    """Train every (configuration, seed) of study ``name`` not yet in the CSV ``results``, appending
    each as it finishes (an interrupted study resumes). Returns the requested cells."""
    where = "run_study"
    check_names([name], STUDIES, "study", where)
    study = STUDIES[name]
    configs = list(study.configs) if configs is None else configs
    check_names(configs, study.configs, "configuration", f"{where} (study {name!r})")
    seeds = check_seeds(seeds, where)
    _checks.device(device, "device", where)
    path = _path(results, "results", where, suffix=".csv")
    flag(progress_bar, "progress_bar", where)

    def same_recipe(cell: Cell) -> bool:  # a cell of other settings (or without the scores asked for) is trained anew
        config = study.configs.get(cell.method)
        return (config is not None and (cell.pair, cell.steps) == (study.pair, study.steps_of(cell.method))
                and cell.batch_size == config.batch_size and bool(cell.scores) == bool(study.measures))

    done = {(c.method, c.seed): c for c in read_cells(path) if same_recipe(c)}
    todo = [(c, s) for c in configs for s in seeds if (c, s) not in done]
    train_one = lambda config, seed: study_cell(name, config, seed, device)  # noqa: E731
    append_cells(todo, train_one, path, name, progress_bar)  # under torchrun, shared by the processes
    done.update({(c.method, c.seed): c for c in read_cells(path) if same_recipe(c)})
    return [done[c, s] for c in configs for s in seeds]


def study_cell(name: str, config: str, seed: int, device: torch.device | str = "cpu") -> Cell:
    """Train one (configuration, seed) of study ``name``: what ``run_study`` stores for it."""
    where = "study_cell"
    check_names([name], STUDIES, "study", where)
    study = STUDIES[name]
    check_names([config], study.configs, "configuration", f"{where} (study {name!r})")
    _seed(seed, "seed", where)
    _checks.device(device, "device", where)
    chosen = study.configs[config]

    def build(source: Domain, target: Domain) -> Method:
        method = chosen.build(source, target, seed)
        if chosen.start is not None:  # the start's network, trained as the study trains and stores it
            first = study.configs[chosen.start]
            begun, _ = train_seeded(lambda s, t: first.build(s, t, seed), source, target, seed, study.steps_of(chosen.start),
                                    first.batch_size)
            method.classifier.load_state_dict(begun.classifier.state_dict())
        return method

    return make_cell(config, build, study.pair, seed, study.steps_of(config), chosen.batch_size, device,
                     measure_pad=False, measures=study.measures)


def paired_gains(cells: Sequence[Cell], study: str, config: str) -> tuple[list[int], np.ndarray]:
    """Seeds and target-test gains of ``config`` over its baseline, paired by seed (fractions); each seed of
    ``config`` needs its baseline's (one seed is enough: a table shows it, a claim needs two)."""
    where = "paired_gains"
    cells = _cells(cells, where)
    check_names([study], STUDIES, "study", where)
    chosen = STUDIES[study]
    check_names([config], chosen.configs, "configuration", f"{where} (study {study!r})")
    baseline = chosen.configs[config].baseline
    if baseline is None:
        raise ValueError(f"{where}: config {config!r} is a baseline in study {study!r}; choose one of "
                         f"{[c for c, v in chosen.configs.items() if v.baseline is not None]}")
    seeds, accuracy, base, _ = paired(seed_accuracies(cells, chosen.pair, config),
                                      seed_accuracies(cells, chosen.pair, baseline), min_seeds=1)
    return list(seeds), accuracy - base


def study_table(cells: Sequence[Cell], study: str, configs: Sequence[str] | None = None) -> str:
    """A Markdown table: target-test accuracy (mean ± std over seeds), and each configuration's gain
    over its baseline paired by seed, with every seed's gain."""
    where = "study_table"
    cells = _cells(cells, where)
    check_names([study], STUDIES, "study", where)
    chosen = STUDIES[study]
    if configs is not None:
        check_names(configs, chosen.configs, "configuration", f"{where} (study {study!r})")
    header = ["configuration", "target test (%)", "source test (%)", "gain over its baseline (points)", "gain, seed by seed"]
    lines = []
    for config in chosen.configs if configs is None else configs:
        _, accuracy = seed_accuracies(cells, chosen.pair, config)
        _, source = seed_accuracies(cells, chosen.pair, config, "source test")
        gain, by_seed = "—", "—"
        baseline = chosen.configs[config].baseline
        if baseline is not None and any((c.pair, c.method) == (chosen.pair, baseline) for c in cells):
            seeds, gains = paired_gains(cells, study, config)
            spread = f" ± {100 * gains.std(ddof=1):.1f}" if len(gains) > 1 else ""
            gain = f"{100 * gains.mean():+.1f}{spread} over {baseline}"
            by_seed = " ".join(f"{100 * g:+.1f}" for g in gains)
        lines.append([config, mean_std(accuracy), mean_std(source), gain, by_seed])
    return markdown_table(header, lines)
