"""Property-based tests of the public functions' boundaries (Hypothesis): the losses, metrics, schedules,
selection scores, label-shift and zero-shot helpers (``tests/properties.py`` is the harness; the other
``tests/test_properties_*.py`` files cover the rest of the API).

``test_every_public_function_is_covered`` lists the public API and fails on a function that no property
test file covers and that is not in ``UNCOVERED`` (the list still to do, which may only shrink).
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
import torch

import tlbook
from tlbook import experiment, label_shift, losses, metrics, schedules, selection
from tlbook.data import labelled_subset
from tlbook.zsl import data as zsl_data
from tlbook.zsl import eszsl
from tlbook.zsl import metrics as zsl_metrics

from properties import BREAKS, Sizes, Spec, covered, domain, linear, property_tests

def _generalised_problem(s: Sizes, **extra) -> dict:
    """Scores of seen-class (0, 1) and unseen-class (2, 3) test images over all four candidates."""
    return dict(scores_seen=s.randn(s.n, 4), y_seen=s.labels(s.n) % 2, scores_unseen=s.randn(s.m, 4),
                y_unseen=2 + s.labels(s.m) % 2, candidates=torch.arange(4), seen=torch.tensor([0, 1]), **extra)


def _confusion(s: Sizes) -> torch.Tensor:
    c = torch.eye(s.classes, dtype=torch.float64) * 0.8 + 0.2 / s.classes
    return c / c.sum()


SPECS: dict[str, Spec] = {
    # losses: two samples of features
    "losses.mmd": Spec(losses.mmd, lambda s: dict(x=s.rand(s.n, s.d), y=s.rand(s.m, s.d)),
                       {"x": "features", "y": "features", "kernel": "choice", "estimator": "choice"},
                       names={"x": ("source",), "y": ("target",)}),
    "losses.mk_mmd": Spec(losses.mk_mmd, lambda s: dict(x=s.rand(s.n, s.d), y=s.rand(s.m, s.d), multipliers=[0.5, 1.0, 2.0]),
                          {"x": "features", "y": "features", "multipliers": "positive_floats", "estimator": "choice",
                           "bandwidth": "positive_float"}, names={"x": ("source",), "y": ("target",)}),
    "losses.coral": Spec(losses.coral, lambda s: dict(x=s.rand(s.n, s.d), y=s.rand(s.m, s.d)),
                         {"x": "features", "y": "features"}, names={"x": ("source",), "y": ("target",)}),
    "losses.covariance": Spec(losses.covariance, lambda s: dict(x=s.rand(s.n, s.d)), {"x": "features"}),
    "losses.cmd": Spec(losses.cmd, lambda s: dict(x=s.rand(s.n, s.d), y=s.rand(s.m, s.d), k=3),
                       {"x": "features", "y": "features", "k": "positive_int", "bounds": "interval"},
                       names={"x": ("source",), "y": ("target",)}),
    "losses.squared_distances": Spec(losses.squared_distances, lambda s: dict(a=s.rand(s.n, s.d), b=s.rand(s.m, s.d)),
                                     {"a": "features", "b": "features"}, legal=("empty",)),
    "losses.median_bandwidth": Spec(losses.median_bandwidth, lambda s: dict(x=s.rand(s.n, s.d), y=s.rand(s.m, s.d)),
                                    {"x": "features", "y": "features"}, names={"x": ("source",), "y": ("target",)}),
    "losses.difference_loss": Spec(losses.difference_loss, lambda s: dict(shared=s.rand(s.n, s.d), private=s.rand(s.n, s.d + 1)),
                                   {"shared": "features", "private": "features", "eps": "positive_float"},
                                   rows={"private": "shared"}),
    "losses.scale_invariant_mse": Spec(losses.scale_invariant_mse,
                                       lambda s: dict(reconstruction=s.rand(s.n, 3, 4, 4), target=s.rand(s.n, 3, 4, 4)),
                                       {"reconstruction": "images", "target": "images"}, rows={"target": "reconstruction"}),
    # losses: logits and labels
    "losses.domain_classification": Spec(losses.domain_classification,
                                         lambda s: dict(source_logits=s.randn(s.n, 2), target_logits=s.randn(s.m, 2)),
                                         {"source_logits": "logits", "target_logits": "logits"}),
    "losses.domain_accuracy": Spec(losses.domain_accuracy,
                                   lambda s: dict(source_logits=s.randn(s.n, 2), target_logits=s.randn(s.m, 2)),
                                   {"source_logits": "logits", "target_logits": "logits"}),
    "losses.domain_confusion": Spec(losses.domain_confusion, lambda s: dict(logits=s.randn(s.n, 2)), {"logits": "logits"}),
    "losses.class_soft_labels": Spec(losses.class_soft_labels,
                                     lambda s: dict(logits=s.randn(s.n, s.classes), labels=s.labels(s.n)),
                                     {"logits": "logits", "labels": "labels", "temperature": "positive_float"},
                                     rows={"labels": "logits"}),
    "losses.soft_label_loss": Spec(losses.soft_label_loss,
                                   lambda s: dict(logits=s.randn(s.n, s.classes), labels=s.labels(s.n),
                                                  soft_labels=s.probabilities(s.classes)),
                                   {"logits": "logits", "labels": "labels", "temperature": "positive_float"},
                                   rows={"labels": "logits"}),
    "losses.minimum_class_confusion": Spec(losses.minimum_class_confusion, lambda s: dict(logits=s.randn(s.n, s.classes)),
                                           {"logits": "logits", "temperature": "positive_float"}),
    "losses.multilinear_map": Spec(losses.multilinear_map,
                                   lambda s: dict(features=s.rand(s.n, s.d), probabilities=s.probabilities(s.n)),
                                   {"features": "features", "probabilities": "features"}, rows={"probabilities": "features"}),
    "losses.entropy_weights": Spec(losses.entropy_weights, lambda s: dict(probabilities=s.probabilities(s.n)),
                                   {"probabilities": "features"}, legal=("empty",)),
    "losses.attribute_hinge": Spec(losses.attribute_hinge,
                                   lambda s: dict(scores=s.randn(s.n, s.classes), labels=s.labels(s.n)),
                                   {"scores": "logits", "labels": "labels", "margin": "nonnegative_float",
                                    "violators": "choice"}, rows={"labels": "scores"}),
    "losses.dan_bandwidths": Spec(losses.dan_bandwidths, lambda s: dict(low=-2, high=2), {"low": "int", "high": "int"}),
    # metrics
    "metrics.accuracy": Spec(metrics.accuracy, lambda s: dict(model=linear(s), x=s.rand(s.n, s.d), y=s.labels(s.n)),
                             {"x": "features", "y": "labels", "batch_size": "positive_int"}, rows={"y": "x"},
                             names={"y": ("labels",), "x": ("inputs",)}),
    "metrics.predict": Spec(metrics.predict, lambda s: dict(model=linear(s), x=s.rand(s.n, s.d)),
                            {"x": "features", "batch_size": "positive_int"}),
    "metrics.proxy_a_distance": Spec(metrics.proxy_a_distance, lambda s: dict(source=s.rand(s.n, s.d), target=s.rand(s.m, s.d)),
                                     {"source": "features", "target": "features", "seed": "seed"}, legal=("integer dtype",)),
    # selection
    "selection.entropy_score": Spec(selection.entropy_score, lambda s: dict(probabilities=s.probabilities(s.n)),
                                    {"probabilities": "probabilities"}),
    "selection.soft_neighborhood_density": Spec(selection.soft_neighborhood_density,
                                                lambda s: dict(probabilities=s.probabilities(s.n)),
                                                {"probabilities": "probabilities", "temperature": "positive_float"}),
    "selection.density_ratios": Spec(selection.density_ratios,
                                     lambda s: dict(source_features=s.rand(s.n, s.d), target_features=s.rand(s.m, s.d) + 0.5,
                                                    at=s.rand(3, s.d)),
                                     {"source_features": "features", "target_features": "features", "at": "features",
                                      "seed": "seed"}, legal=("one more dimension", "integer dtype")),
    "selection.importance_weighted_score": Spec(selection.importance_weighted_score,
                                                lambda s: dict(losses=s.rand(s.n), weights=s.rand(s.n)),
                                                {"losses": "values", "weights": "values"}, rows={"weights": "losses"}),
    "selection.deep_embedded_score": Spec(selection.deep_embedded_score,
                                          lambda s: dict(losses=s.rand(s.n), weights=s.rand(s.n)),
                                          {"losses": "values", "weights": "values"}, rows={"weights": "losses"}),
    # label shift
    "label_shift.confusion_joint": Spec(label_shift.confusion_joint,
                                        lambda s: dict(predictions=s.labels(s.n).roll(1), labels=s.labels(s.n), num_classes=s.classes),
                                        {"predictions": "labels", "labels": "labels", "num_classes": "classes"},
                                        rows={"labels": "predictions"}),
    "label_shift.prediction_rates": Spec(label_shift.prediction_rates,
                                         lambda s: dict(predictions=s.labels(s.n), num_classes=s.classes),
                                         {"predictions": "labels", "num_classes": "classes"}),
    "label_shift.bbse_weights": Spec(label_shift.bbse_weights,
                                     lambda s: dict(confusion=_confusion(s), target_rates=torch.full((s.classes,), 1 / s.classes)),
                                     {"confusion": "square", "target_rates": "values"}),
    "label_shift.estimate_label_shift": Spec(label_shift.estimate_label_shift,
                                             lambda s: dict(model=linear(s), source_validation=(s.rand(s.n, s.d), s.labels(s.n)),
                                                            target_x=s.rand(s.m, s.d), num_classes=s.classes),
                                             {"target_x": "features", "num_classes": "classes"}, may_refuse=True),
    "label_shift.reweighted_predictions": Spec(label_shift.reweighted_predictions,
                                               lambda s: dict(model=linear(s), x=s.rand(s.n, s.d), weights=torch.ones(s.classes)),
                                               {"x": "features", "weights": "values"}),
    # schedules
    "schedules.dann_lr": Spec(schedules.dann_lr, lambda s: dict(p=s.seed / 2**16), {"p": "progress", "alpha": "nonnegative_float",
                                                                                     "beta": "nonnegative_float"}),
    "schedules.dann_lambda": Spec(schedules.dann_lambda, lambda s: dict(p=s.seed / 2**16),
                                  {"p": "progress", "gamma": "nonnegative_float"}),
    "label_shift.label_shift_pair": Spec(label_shift.label_shift_pair,
                                         lambda s: dict(domain=domain(s), proportions=[2.0] + [1.0] * (s.classes - 1)),
                                         {"proportions": "proportions", "seed": "seed"}, may_refuse=True),
    # data
    "data.registry.labelled_subset": Spec(labelled_subset, lambda s: dict(domain=domain(s), per_class=2),
                                          {"per_class": "positive_int", "seed": "seed"}),
    # zero-shot learning
    "zsl.metrics.predict": Spec(zsl_metrics.predict,
                                lambda s: dict(scores=s.randn(s.n, s.classes), candidates=torch.arange(s.classes) + 1),
                                {"scores": "logits", "candidates": "class_ids", "calibration": "finite_float"}),
    "zsl.metrics.per_class_accuracy": Spec(zsl_metrics.per_class_accuracy,
                                           lambda s: dict(predictions=s.labels(s.n).roll(1), labels=s.labels(s.n)),
                                           {"predictions": "labels", "labels": "labels"}, rows={"predictions": "labels"},
                                           legal=("a class out of range", "a negative class")),
    "zsl.metrics.harmonic_mean": Spec(zsl_metrics.harmonic_mean, lambda s: dict(u=s.seed / 2**16, s=0.5),
                                      {"u": "progress", "s": "progress"}),
    "zsl.metrics.seen_unseen_curve": Spec(zsl_metrics.seen_unseen_curve,
                                          lambda s: _generalised_problem(s, num=5),
                                          {"candidates": "class_ids", "seen": "class_ids", "num": "count_2"}),
    "zsl.metrics.generalised": Spec(zsl_metrics.generalised,
                                    lambda s: _generalised_problem(s),
                                    {"candidates": "class_ids", "calibration": "finite_float"}),
    "zsl.metrics.choose_calibration": Spec(zsl_metrics.choose_calibration,
                                           lambda s: _generalised_problem(s, num=5),
                                           {"candidates": "class_ids", "seen": "class_ids", "num": "count_2"}),
    "zsl.eszsl.eszsl_fit": Spec(eszsl.eszsl_fit, lambda s: dict(features=s.randn(s.n, s.d), labels=s.labels(s.n),
                                                                signatures=s.rand(s.classes, 3)),
                                {"features": "features", "labels": "labels", "signatures": "features",
                                 "gamma": "positive_float", "lam": "positive_float"}, rows={"labels": "features"},
                                legal=("signatures:integer dtype",)),  # binary attributes
    "zsl.eszsl.eszsl_scores": Spec(eszsl.eszsl_scores, lambda s: dict(features=s.randn(s.n, s.d), V=s.randn(s.d, 3),
                                                                      signatures=s.rand(s.classes, 3)),
                                   {"features": "features", "V": "features", "signatures": "features"}, legal=("features:empty", "signatures:integer dtype")),
    "zsl.data.most_distinct_classes": Spec(zsl_data.most_distinct_classes,
                                           lambda s: dict(attributes=s.rand(s.classes + 2, 4), k=2),
                                           {"attributes": "features", "k": "count_2", "among": "class_list"},
                                           legal=("attributes:integer dtype",)),
    # experiment
    "experiment.mean_std": Spec(experiment.mean_std, lambda s: dict(values=s.rand(s.n).tolist()),
                                {"values": "value_list", "scale": "finite_float", "digits": "digits"}),
}

test_a_valid_call_gives_a_finite_result, test_a_broken_argument_gets_an_error_that_names_it = property_tests(SPECS)


def test_a_subset_search_too_long_to_finish_is_refused():
    """most_distinct_classes tries every subset: C(40, 20) is about 1.4e11, hours of work; it must say so at once."""
    with pytest.raises(ValueError, match="subsets"):
        zsl_data.most_distinct_classes(torch.rand(40, 4), k=20)


# --- the meta-test -----------------------------------------------------------------------------------------

#: Public functions no property test covers yet (this list may only shrink).
UNCOVERED: set[str] = set()


def _public_api() -> set[str]:
    """Every function and class in the ``__all__`` of a public module of tlbook (no part of its name starts
    with ``_``), named by the module that defines it. A class is called through its constructor; exceptions
    are left out (the package raises them; nobody calls them)."""
    found = set()
    for info in pkgutil.walk_packages(tlbook.__path__, "tlbook."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or not obj.__module__.startswith("tlbook"):
                continue
            if not (inspect.isclass(obj) and issubclass(obj, BaseException)):
                found.add(f"{obj.__module__.removeprefix('tlbook.')}.{obj.__name__}")
    return found


def _property_files() -> list:
    return [importlib.import_module(path.stem) for path in sorted(Path(__file__).parent.glob("test_properties*.py"))]


def _covered() -> set[str]:
    """What the property test files cover: their ``SPECS``, and in ``PROPERTIES`` the functions a
    hand-written Hypothesis test covers (public name -> that test)."""
    found = set()
    for module in _property_files():
        found |= covered(getattr(module, "SPECS", {}))
        for name, test in getattr(module, "PROPERTIES", {}).items():
            assert hasattr(test, "hypothesis"), f"{module.__name__}: {test.__name__} (for {name}) is not a Hypothesis test"
            found.add(name)
    return found


def test_every_public_function_is_covered():
    missing = _public_api() - _covered() - UNCOVERED
    assert not missing, f"public functions and classes no property test covers: {sorted(missing)}"
    assert not (UNCOVERED & _covered()), f"covered now, take them off UNCOVERED: {sorted(UNCOVERED & _covered())}"
    assert not (UNCOVERED - _public_api()), f"not public (any more): {sorted(UNCOVERED - _public_api())}"
