"""Property-based tests of training: the methods' constructors, ``fit`` and its helpers, and the
experiment helpers (``repeat``, ``Runs``, the tables). The harness is ``tests/properties.py``.

Beyond the two generated properties (a valid call works; a broken argument gets an error that names it),
``PROPERTIES`` holds what a ``Spec`` cannot say: every method, validly built, takes finite training steps;
``fit`` refuses every broken argument before the first step; a term logged in part of a run stays aligned
with the logged steps; ``Runs`` names the seeds whose run lacks an evaluation set.
"""
from __future__ import annotations

import copy
import math
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from properties import BREAKS, Sizes, Spec, breakable, domain, property_tests, sizes
from tlbook import experiment
from tlbook.data import Domain
from tlbook.methods import (CDAN, CMD, DAN, DANN, DDC, DSN, MCC, AdaBN, DeepCORAL, Discrepancy, Method, PixelDA, SDT,
                            SourceOnly, TargetOnly, source_soft_labels)
from tlbook.nn import Classifier, ImageDiscriminator, MLP, PixelGenerator, digit_classifier
from tlbook.train import History, Settings, fit, make_optimizer

# --- the valid calls ---------------------------------------------------------------------------------------

def net(s: Sizes, **options) -> Classifier:
    """A small classifier for ``s.d`` features: backbone, bottleneck, fc1, fc2, logits."""
    torch.manual_seed(s.seed)
    return Classifier(MLP(s.d, (6,)), s.classes, **{"bottleneck": 4, "hidden": (5, 5), **options})


def image_net(s: Sizes) -> Classifier:
    torch.manual_seed(s.seed)
    return digit_classifier(1, 8, s.classes, widths=(2, 2), hidden=(4,), bottleneck=4)


def images(s: Sizes) -> Domain:
    """A domain of 1×8×8 images, every class in both splits."""
    n, m = 2 * s.classes + s.n % 5, 2 * s.classes + s.m % 5
    return Domain("images", "generated", s.rand(n, 1, 8, 8), s.labels(n), s.rand(m, 1, 8, 8), s.labels(m), s.classes)


def soft_labels(s: Sizes) -> torch.Tensor:
    return s.probabilities(s.classes)


def labelled(s: Sizes) -> tuple[torch.Tensor, torch.Tensor]:
    return s.rand(s.classes + 1, s.d), s.labels(s.classes + 1)


def _method(s: Sizes) -> SourceOnly:
    return SourceOnly(net(s))


def _fit_call(s: Sizes) -> dict:
    source, target = domain(s), domain(Sizes(s.n, s.m, s.d, s.classes, s.seed + 1))
    return dict(method=_method(s), source=source, target=target, steps=2, batch_size=4, log_every=1,
                eval_sets={"target test": (target.x_test, target.y_test)}, progress_bar=False)


def _repeat_call(s: Sizes) -> dict:
    """repeat's arguments, and fit's options for it (all of fit's but the method and the seed)."""
    call = {k: v for k, v in _fit_call(s).items() if k != "method"}
    return {**call, "make_method": lambda: _method(s), "seeds": [s.seed % 3, 3], "steps": 1}


def _history(evals: dict | None = None) -> History:
    return History(steps=[1], terms={"loss": [0.5]}, eval_steps=[1],
                   evals=evals if evals is not None else {"target test": [0.5], "source test": [0.9]})


def _runs(s: Sizes, name: str = "runs", count: int | None = None) -> experiment.Runs:
    count = count or 1 + s.seed % 3
    return experiment.Runs(name, list(range(count)), [None] * count,
                           [_history({"target test": [(s.seed + i) % 7 / 7], "source test": [0.9]}) for i in range(count)])


# --- the ways to break the arguments of this area ------------------------------------------------------------

def _negative_at_the_end(p: float) -> float:
    return 1.0 - 2 * p


def _inputs_elsewhere(d: Domain) -> Domain:
    """``d`` with its inputs on another device: the "meta" device, which holds shapes and no values, so this
    runs without a GPU (and the labels, which a Domain reads, stay where they are)."""
    moved = copy.copy(d)
    for split in ("x_train", "x_test"):
        object.__setattr__(moved, split, getattr(d, split).to("meta"))
    return moved


NOT_A_FOLDER = Path(tempfile.gettempdir()) / "tlbook-no-such-folder" / "run.pt"

TRAINING_BREAKS = {
    **BREAKS,
    "module": {"not a module": lambda v, call, s: "a network", "None": lambda v, call, s: None},
    "classifier": {"not a module": lambda v, call, s: "a network", "None": lambda v, call, s: None,
                   "a module without named layers": lambda v, call, s: nn.Linear(s.d, s.classes)},
    "bn_classifier": {"not a module": lambda v, call, s: "a network", "no batch norm": lambda v, call, s: net(s)},
    "optional_module": {"not a module": lambda v, call, s: "a network"},
    "schedule": {"not callable": lambda v, call, s: 1.0, "negative": lambda v, call, s: lambda p: -1.0,
                 "nan": lambda v, call, s: lambda p: math.nan, "negative at the end": lambda v, call, s: _negative_at_the_end,
                 "not a number": lambda v, call, s: lambda p: "1"},
    "layer": {"unknown": lambda v, call, s: "fc9", "not a string": lambda v, call, s: 3},
    "layers": {"unknown": lambda v, call, s: ["fc9"], "one string": lambda v, call, s: "logits",
               "empty": lambda v, call, s: []},
    "widths": {"a zero": lambda v, call, s: (0,), "a float": lambda v, call, s: (2.5,), "one number": lambda v, call, s: 8},
    "pair_widths": {"a zero": lambda v, call, s: (0, 4), "one number": lambda v, call, s: 8,
                    "three": lambda v, call, s: (2, 2, 2)},
    "flag": {"a string": lambda v, call, s: "no", "None": lambda v, call, s: None},
    "callable": {"not callable": lambda v, call, s: "mmd"},
    "image_shape": {"not square": lambda v, call, s: (v[0], v[1], v[2] + 4), "two numbers": lambda v, call, s: v[:2],
                    "a zero": lambda v, call, s: (v[0], 0, 0), "a float": lambda v, call, s: (v[0], 8.0, 8.0)},
    "dsn_image_shape": {},  # filled in below: image_shape's ways, and a size the decoder cannot rebuild
    "warmup": {"one": lambda v, call, s: 1.0, "negative": lambda v, call, s: -0.1, "nan": lambda v, call, s: math.nan,
               "a string": lambda v, call, s: "0.1"},
    "multipliers": {**BREAKS["positive_floats"], "one number": lambda v, call, s: 2.0},
    "class_weights": {"one too many": lambda v, call, s: torch.ones(s.classes + 1), "negative": lambda v, call, s: -v,
                      "nan": lambda v, call, s: v * math.nan, "all zero": lambda v, call, s: v * 0,
                      "a list": lambda v, call, s: v.tolist()},
    "labelled_pair": {"not a pair": lambda v, call, s: v[0], "lengths differ": lambda v, call, s: (v[0], v[1][:-1]),
                      "float labels": lambda v, call, s: (v[0], v[1].float()),
                      "a class out of range": lambda v, call, s: (v[0], v[1] + s.classes),
                      "empty": lambda v, call, s: (v[0][:0], v[1][:0])},
    "soft_labels": {"one row fewer": lambda v, call, s: v[:-1], "not probabilities": lambda v, call, s: 2 * v,
                    "nan": lambda v, call, s: v * math.nan, "a list": lambda v, call, s: v.tolist()},
    "domain": {"not a domain": lambda v, call, s: (v.x_train, v.y_train), "None": lambda v, call, s: None},
    "target": {"not a domain": lambda v, call, s: (v.x_train, v.y_train),
               "on another device": lambda v, call, s: _inputs_elsewhere(v)},
    "method": {"not a method": lambda v, call, s: net(s), "None": lambda v, call, s: None},
    "eval_sets": {
        "x and y differ in length": lambda v, call, s: {"t": (call["target"].x_test, call["target"].y_test[:-1])},
        "another feature shape": lambda v, call, s: {"t": (call["target"].x_test[:, :1].repeat(1, s.d + 1),
                                                           call["target"].y_test)},
        "not a pair": lambda v, call, s: {"t": call["target"].x_test},
        "not a dict": lambda v, call, s: [(call["target"].x_test, call["target"].y_test)],
        "inputs on another device": lambda v, call, s: {"t": (call["target"].x_test.to("meta"), call["target"].y_test)},
        "another dtype": lambda v, call, s: {"t": (call["target"].x_test.double(), call["target"].y_test)},
        "float labels": lambda v, call, s: {"t": (call["target"].x_test, call["target"].y_test.float())},
        "a class out of range": lambda v, call, s: {"t": (call["target"].x_test, call["target"].y_test + s.classes)},
        "empty": lambda v, call, s: {"t": (call["target"].x_test[:0], call["target"].y_test[:0])}},
    "checkpoint": {"an existing folder": lambda v, call, s: tempfile.gettempdir(),
                   "in a missing folder": lambda v, call, s: NOT_A_FOLDER, "not a path": lambda v, call, s: 3},
    "optimizer": {"unknown": lambda v, call, s: "lbfgs", "None": lambda v, call, s: None},
    "tristate": {"a string": lambda v, call, s: "no"},
    "make_method": {"not callable": lambda v, call, s: "SourceOnly", "a method, not a maker": lambda v, call, s: v(),
                    "returns no method": lambda v, call, s: lambda: None},
    "seeds": {"empty": lambda v, call, s: [], "a seed twice": lambda v, call, s: [0, 0], "a float": lambda v, call, s: [0.5],
              "None": lambda v, call, s: None, "one number": lambda v, call, s: 0, "negative": lambda v, call, s: [-1],
              "a string": lambda v, call, s: "012"},
    "name": {"not a string": lambda v, call, s: 3},
    "histories": {"not histories": lambda v, call, s: [{"target test": [0.5]}] * len(v), "None": lambda v, call, s: None},
    "runs": {"an empty dict": lambda v, call, s: {}, "a dict of runs": lambda v, call, s: {r.name: r for r in v},
             "not Runs": lambda v, call, s: [0.5], "one Runs, not a list": lambda v, call, s: v[0],
             "an eval set missing": lambda v, call, s: [experiment.Runs("partial", [0], [None], [_history({})])]},
    "baseline": {"not Runs": lambda v, call, s: [v], "a number": lambda v, call, s: 0.5},
    "header": {"a string": lambda v, call, s: "ab", "empty": lambda v, call, s: [], "None": lambda v, call, s: None},
    "rows": {"a row too short": lambda v, call, s: [v[0][:1]], "a string row": lambda v, call, s: ["ab"],
             "a string": lambda v, call, s: "ab", "None": lambda v, call, s: None},
    "key": {"not a string": lambda v, call, s: 3, "empty": lambda v, call, s: "", "with spaces": lambda v, call, s: "a b"},
    "gluable": {"nan": lambda v, call, s: math.nan, "inf": lambda v, call, s: -math.inf},
}
TRAINING_BREAKS["dsn_image_shape"] = {**TRAINING_BREAKS["image_shape"],
                                      "size not divisible by 4": lambda v, call, s: (v[0], 10, 10)}

# --- the specs ---------------------------------------------------------------------------------------------

ONCE = 1  # constructors are cheap, but there are many cases: one generated call each
WEIGHT = "nonnegative_float"

SPECS: dict[str, Spec] = {
    # methods: their constructors
    "methods.base.Method": Spec(Method, lambda s: dict(classifier=net(s)), {"classifier": "module"}, examples=ONCE),
    "methods.baselines.SourceOnly": Spec(SourceOnly, lambda s: dict(classifier=net(s), class_weights=torch.ones(s.classes)),
                                         {"classifier": "module", "class_weights": "class_weights"}, examples=ONCE),
    "methods.baselines.TargetOnly": Spec(TargetOnly, lambda s: dict(classifier=net(s)), {"classifier": "module"},
                                         examples=ONCE),
    "methods.baselines.AdaBN": Spec(AdaBN, lambda s: dict(classifier=net(s, batch_norm=True)),
                                    {"classifier": "bn_classifier"}, examples=ONCE),
    "methods.adversarial.DANN": Spec(DANN, lambda s: dict(classifier=net(s), hidden=(4,)),
                                     {"classifier": "classifier", "layer": "layer", "weight": WEIGHT, "schedule": "schedule",
                                      "discriminator": "optional_module", "hidden": "widths", "domain_batch_norm": "flag"},
                                     examples=ONCE),
    "methods.adversarial.CDAN": Spec(CDAN, lambda s: dict(classifier=net(s), hidden=(4,), randomized_dim=8),
                                     {"classifier": "classifier", "layer": "layer", "entropy": "flag", "weight": WEIGHT,
                                      "randomize_above": "int", "randomized_dim": "positive_int", "schedule": "schedule",
                                      "hidden": "widths", "domain_batch_norm": "flag"}, examples=ONCE),
    "methods.discrepancy.Discrepancy": Spec(Discrepancy, lambda s: dict(classifier=net(s), discrepancy=torch.dist, weight=1.0),
                                            {"classifier": "classifier", "discrepancy": "callable", "weight": WEIGHT,
                                             "layers": "layers", "schedule": "schedule"}, examples=ONCE),
    "methods.discrepancy.DDC": Spec(DDC, lambda s: dict(classifier=net(s)),
                                    {"classifier": "classifier", "weight": WEIGHT, "layer": "layer", "schedule": "schedule"},
                                    examples=ONCE),
    "methods.discrepancy.DAN": Spec(DAN, lambda s: dict(classifier=net(s), multipliers=[0.5, 1.0]),
                                    {"classifier": "classifier", "weight": WEIGHT, "layers": "layers",
                                     "multipliers": "multipliers", "schedule": "schedule"}, examples=ONCE),
    "methods.discrepancy.DeepCORAL": Spec(DeepCORAL, lambda s: dict(classifier=net(s)),
                                          {"classifier": "classifier", "weight": WEIGHT, "layers": "layers",
                                           "schedule": "schedule"}, examples=ONCE),
    "methods.discrepancy.CMD": Spec(CMD, lambda s: dict(classifier=net(s, bottleneck_activation="sigmoid"), k=3),
                                    {"classifier": "classifier", "weight": WEIGHT, "layer": "layer", "k": "positive_int",
                                     "bounds": "interval", "schedule": "schedule"}, examples=ONCE),
    "methods.mcc.MCC": Spec(MCC, lambda s: dict(classifier=net(s)),
                            {"classifier": "module", "weight": WEIGHT, "temperature": "positive_float"}, examples=ONCE),
    "methods.dsn.DSN": Spec(DSN, lambda s: dict(classifier=image_net(s), image_shape=(1, 8, 8), private_widths=(2, 2)),
                            {"classifier": "classifier", "image_shape": "dsn_image_shape", "recon_weight": WEIGHT,
                             "difference_weight": WEIGHT, "similarity_weight": WEIGHT, "similarity": "callable",
                             "warmup": "warmup", "private_widths": "pair_widths", "reconstruction": "callable"},
                            examples=ONCE),
    "methods.pixelda.PixelDA": Spec(PixelDA, lambda s: dict(classifier=image_net(s), image_shape=(1, 8, 8), noise_dim=4),
                                    {"classifier": "module", "image_shape": "image_shape", "generator": "optional_module",
                                     "discriminator": "optional_module", "adversarial_weight": WEIGHT, "task_weight": WEIGHT,
                                     "content_weight": WEIGHT, "foreground": "finite_float", "noise_dim": "positive_int"},
                                    examples=ONCE),
    "methods.sdt.SDT": Spec(SDT, lambda s: dict(classifier=net(s), labelled_target=labelled(s), soft_labels=soft_labels(s),
                                                hidden=(4,), batch_size=4),
                            {"classifier": "classifier", "labelled_target": "labelled_pair", "soft_labels": "soft_labels",
                             "layer": "layer", "confusion_weight": WEIGHT, "soft_weight": WEIGHT,
                             "temperature": "positive_float", "hidden": "widths", "batch_size": "positive_int",
                             "seed": "seed"}, examples=ONCE),
    "methods.sdt.source_soft_labels": Spec(source_soft_labels, lambda s: dict(model=net(s), source=domain(s)),
                                           {"model": "module", "source": "domain", "temperature": "positive_float"},
                                           examples=ONCE),
    # the training loop
    "train.make_optimizer": Spec(make_optimizer, lambda s: dict(name="adam" if s.seed % 2 else "sgd", lr=0.01),
                                 {"name": "optimizer", "lr": "positive_float", "momentum": "nonnegative_float",
                                  "weight_decay": "nonnegative_float"}, names={"name": ("optimizer",)}, examples=3),
    "train.History": Spec(History, lambda s: dict(steps=[1], terms={"loss": [s.seed / 7]}), {}, examples=ONCE),
    "train.Settings": Spec(Settings, lambda s: dict(method="SourceOnly", source="a", target=None, steps=s.n, batch_size=4,
                                                    optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=0.0,
                                                    lr_schedule=None, eval_every=1, log_every=1, seed=s.seed, amp=False,
                                                    world_size=1), {}, examples=ONCE),
    "train.fit": Spec(fit, _fit_call,
                      {"method": "method", "source": "domain", "target": "target", "steps": "positive_int",
                       "batch_size": "positive_int", "optimizer": "optimizer", "lr": "positive_float",
                       "momentum": "nonnegative_float", "weight_decay": "nonnegative_float", "lr_schedule": "schedule",
                       "eval_sets": "eval_sets", "eval_every": "positive_int", "log_every": "positive_int",
                       "checkpoint": "checkpoint", "checkpoint_every": "positive_int", "seed": "seed",
                       "progress_bar": "flag", "callback": "callable", "amp": "flag", "distributed": "tristate"},
                      examples=ONCE),
    # experiments
    "experiment.repeat": Spec(experiment.repeat, lambda s: _repeat_call(s),
                              {"make_method": "make_method", "seeds": "seeds", "name": "name", "progress_bar": "flag"},
                              examples=ONCE),
    "experiment.Runs": Spec(experiment.Runs, lambda s: dict(name="runs", seeds=[0, 1], methods=[None, None],
                                                             histories=[_history(), _history()]),
                            {"name": "name", "seeds": "seeds", "histories": "histories"}, examples=ONCE),
    "experiment.comparison_table": Spec(experiment.comparison_table,
                                        lambda s: dict(runs=[_runs(s, "a"), _runs(s, "b")], baseline=_runs(s, "base", 3)),
                                        {"runs": "runs", "baseline": "baseline"}, names={"runs": ("Runs",)}, examples=ONCE),
    "experiment.markdown_table": Spec(experiment.markdown_table,
                                      lambda s: dict(header=["a", "b"], rows=[[s.n, "x|y"], [s.m, s.d]]),
                                      {"header": "header", "rows": "rows"}, examples=ONCE),
    "experiment.glue": Spec(experiment.glue, lambda s: dict(name="generated_value", value=s.seed / 7),
                            {"name": "key", "value": "gluable"}, examples=ONCE),
}

test_a_valid_call_gives_a_finite_result, test_a_broken_argument_gets_an_error_that_names_it = property_tests(
    SPECS, breaks=TRAINING_BREAKS)


# --- what a Spec cannot say ----------------------------------------------------------------------------------

def _trainable(name: str, s: Sizes) -> tuple[Method, Domain, Domain]:
    """The method of spec ``name``, validly built, and a source and target it trains on."""
    call = SPECS[name].valid(s)
    if name == "methods.discrepancy.Discrepancy":
        call["discrepancy"] = lambda a, b: (a.mean(0) - b.mean(0)).pow(2).sum()
    if name == "methods.pixelda.PixelDA":  # a smaller generator and discriminator: the same method, less work
        call.update(generator=PixelGenerator(1, 1, 8, 4, width=4, blocks=1), discriminator=ImageDiscriminator(1, 8, (4,)))
    pair = (images(s), images(Sizes(s.n, s.m, s.d, s.classes, s.seed + 1))) if "image_shape" in call else \
        (domain(s), domain(Sizes(s.n, s.m, s.d, s.classes, s.seed + 1)))
    return SPECS[name].fn(**call), *pair


TRAINABLE = sorted(name for name, spec in SPECS.items()
                   if name.startswith("methods.") and spec.fn not in (Method, source_soft_labels))


@settings(max_examples=1)  # the methods own behavioural tests elsewhere; here: every generated valid build trains
@given(s=sizes)
def test_every_method_validly_built_takes_finite_training_steps(s):
    """Each method, built from generated valid arguments, trains two steps: every logged term is finite
    and every accuracy a fraction; ``source_soft_labels`` gives one probability distribution per class."""
    for name in TRAINABLE:
        method, source, target = _trainable(name, s)
        history = fit(method, source, target, steps=2, batch_size=4, log_every=1, progress_bar=False)
        assert history.steps == [1, 2] and history.terms, name
        for term, values in history.terms.items():
            assert len(values) == 2 and all(math.isfinite(v) for v in values), f"{name}: {term} = {values}"
        assert all(0 <= a <= 1 for values in history.evals.values() for a in values), name
    table = source_soft_labels(net(s), domain(s))
    assert table.shape == (s.classes, s.classes) and torch.allclose(table.sum(1), torch.ones(s.classes))


class _Counting(SourceOnly):
    """SourceOnly that counts the training steps taken."""

    steps_taken = 0

    def training_step(self, *args):
        self.steps_taken += 1
        return super().training_step(*args)


FIT_BREAKS = [(argument, way) for argument, way in breakable(SPECS["train.fit"], TRAINING_BREAKS) if argument != "method"]


@settings(max_examples=1)
@given(s=sizes)
def test_fit_refuses_every_broken_argument_before_the_first_step(s):
    """Every way to break fit's arguments is refused before a training step runs (and before the method is
    moved): devices, evaluation sets, checkpoint paths, schedules... never after minutes of training."""
    for argument, way in FIT_BREAKS:
        call = _fit_call(s)
        call["method"] = method = _Counting(net(s))
        call[argument] = TRAINING_BREAKS[SPECS["train.fit"].kinds[argument]][way](call.get(argument), call, s)
        with pytest.raises((ValueError, TypeError)):
            fit(**call)
        assert method.steps_taken == 0, f"fit({argument}={way}) failed only after {method.steps_taken} step(s)"


class _Sometimes(SourceOnly):
    """SourceOnly that also logs ``"sometimes"`` = the step's index, at the steps in ``logged`` only."""

    def __init__(self, classifier: Classifier, steps: int, logged: set[int]):
        super().__init__(classifier)
        self.steps, self.logged = steps, logged

    def loss(self, source, target, progress):
        total, terms = super().loss(source, target, progress)
        step = round(progress * self.steps)
        return total, {**terms, "sometimes": torch.tensor(float(step))} if step in self.logged else terms


@settings(max_examples=6)
@given(s=sizes, steps=st.integers(1, 6), log_every=st.integers(1, 3), logged=st.sets(st.integers(0, 5)))
def test_a_term_logged_in_part_of_a_run_stays_aligned_with_the_steps(s, steps, log_every, logged):
    """A term a method logs at some steps only is averaged over those steps, NaN in an interval without any,
    and every term keeps one value per logged step (so curves and tables line up)."""
    method = _Sometimes(net(s), steps, {step for step in logged if step < steps})
    history = fit(method, domain(s), None, steps=steps, batch_size=4, log_every=log_every, eval_sets={}, progress_bar=False)
    assert all(len(values) == len(history.steps) for values in history.terms.values())
    if not method.logged:
        assert "sometimes" not in history.terms
        return
    start = 0
    for done, value in zip(history.steps, history.terms["sometimes"]):
        seen = [step for step in range(start, done) if step in method.logged]
        assert math.isnan(value) if not seen else value == pytest.approx(sum(seen) / len(seen)), (done, seen, value)
        start = done


@settings(max_examples=10)
@given(recorded=st.lists(st.booleans(), min_size=1, max_size=5))
def test_runs_name_the_seeds_whose_run_lacks_an_evaluation_set(recorded):
    """``Runs.accuracies`` of an evaluation set some runs did not record names those runs' seeds; with
    every run recording it, one accuracy per seed. An empty list of runs makes a table with no rows."""
    seeds = [10 + i for i in range(len(recorded))]
    histories = [_history({"target test": [0.25 * (i % 4)]} if ok else {"source test": [0.5]}) for i, ok in enumerate(recorded)]
    runs = experiment.Runs("partial", seeds, [None] * len(seeds), histories)
    missing = [seed for seed, ok in zip(seeds, recorded) if not ok]
    if missing:
        with pytest.raises(ValueError, match=rf"seed\(s\) {missing}".replace("[", r"\[").replace("]", r"\]")):
            runs.accuracies()
    else:
        assert runs.accuracies().tolist() == [0.25 * (i % 4) for i in range(len(seeds))]
    assert experiment.comparison_table([]).count("\n") == 1  # the header and its rule


@settings(max_examples=1)
@given(s=sizes, seeds=st.lists(st.integers(0, 2**16), min_size=1, max_size=2, unique=True))
def test_repeat_trains_once_per_seed_and_reproducibly(s, seeds):
    """``repeat`` returns one run per seed, in order, and the same numbers when called again."""
    call = _repeat_call(s) | {"seeds": seeds, "steps": 2}
    first, again = experiment.repeat(**call), experiment.repeat(**call)
    assert first.seeds == again.seeds == seeds and len(first.histories) == len(seeds)
    assert [h.terms for h in first.histories] == [h.terms for h in again.histories]
    assert first.accuracies().tolist() == again.accuracies().tolist()


PROPERTIES = {
    **dict.fromkeys(TRAINABLE + ["methods.sdt.source_soft_labels"], test_every_method_validly_built_takes_finite_training_steps),
    "train.fit": test_fit_refuses_every_broken_argument_before_the_first_step,
    "train.History": test_a_term_logged_in_part_of_a_run_stays_aligned_with_the_steps,
    "experiment.Runs": test_runs_name_the_seeds_whose_run_lacks_an_evaluation_set,
    "experiment.comparison_table": test_runs_name_the_seeds_whose_run_lacks_an_evaluation_set,
    "experiment.repeat": test_repeat_trains_once_per_seed_and_reproducibly,
}
