"""The harness of the property-based tests (Hypothesis), shared by every ``tests/test_properties*.py`` file.

A file declares ``SPECS`` (a public function, how to call it validly, the kind of each argument that may be
broken) and gets its two tests from ``property_tests(SPECS)``:

- a valid call, generated from ``Sizes`` drawn by Hypothesis (degenerate ones included), gives a finite result;
- the same call with one argument broken in one way of its kind (see ``BREAKS``) raises a ``ValueError`` or
  ``TypeError`` whose message names the argument; never a number, a hang or an unrelated exception.

A file may add kinds of its own: ``property_tests(SPECS, breaks={**BREAKS, "kind": {...}})``.

Profiles: ``HYPOTHESIS_PROFILE=long pytest tests/test_properties*.py`` runs many more cases by hand; CI runs the
short default (``ci``: derandomised, no database written).
"""
from __future__ import annotations

import inspect
import math
import os
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from tlbook.data import Domain

settings.register_profile("ci", max_examples=10, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])  # the same cases on every run, no files written
settings.register_profile("long", max_examples=500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# --- the valid calls ---------------------------------------------------------------------------------------

@dataclass
class Sizes:
    """What one generated call is built from: rows of the two samples, features, classes, a seed."""

    n: int
    m: int
    d: int
    classes: int
    seed: int

    def rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=torch.Generator().manual_seed(self.seed + sum(shape)))

    def randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=torch.Generator().manual_seed(self.seed + 7 * sum(shape)))

    def labels(self, n: int) -> torch.Tensor:
        """Labels with every class present (the first ``classes`` rows cycle through them)."""
        y = torch.randint(0, self.classes, (n,), generator=torch.Generator().manual_seed(self.seed))
        y[: self.classes] = torch.arange(min(self.classes, n))
        return y

    def probabilities(self, n: int) -> torch.Tensor:
        return torch.softmax(3 * self.randn(n, self.classes), dim=1)


sizes = st.integers(2, 5).flatmap(  # at least as many rows as classes, so every class can be present
    lambda classes: st.builds(Sizes, n=st.integers(max(4, classes), 24), m=st.integers(max(4, classes), 24),
                              d=st.integers(1, 6), classes=st.just(classes), seed=st.integers(0, 2**16)))


def linear(sizes: Sizes) -> nn.Module:
    torch.manual_seed(sizes.seed)
    return nn.Linear(sizes.d, sizes.classes)


@dataclass
class Spec:
    """A public function, how to call it validly, and the kind of each argument that may be broken."""

    fn: Callable
    valid: Callable[[Sizes], dict]
    kinds: dict[str, str]  # argument -> kind (see BREAKS)
    rows: dict[str, str] = field(default_factory=dict)  # argument -> the argument whose length it must match
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # other words a message may name it by
    may_refuse: bool = False  # a valid call may get a clear ValueError (e.g. BBSE with an untrained model)
    legal: tuple[str, ...] = ()  # "way" or "argument:way" that is legal here: the call must then give a finite result
    examples: int | None = None  # at most this many generated calls per test: for a function that trains or renders


def domain(s: Sizes) -> Domain:
    """A small domain with every class in both splits, at least 4 examples of each in train."""
    n = 4 * s.classes + s.n
    m = 8 * s.classes + s.m
    return Domain("generated", "generated", s.rand(n, s.d), s.labels(n), s.rand(m, s.d), s.labels(m), s.classes)


# --- the ways to break an argument, by kind ---------------------------------------------------------------
# Each returns the broken value given the valid one, the whole call and the sizes (NotImplemented: does not apply).

def _tensor_breaks(extra: dict) -> dict:
    base = {
        "one more dimension": lambda v, call, s: v.unsqueeze(-1) if isinstance(v, torch.Tensor) else NotImplemented,
        "a Python list": lambda v, call, s: v.tolist() if isinstance(v, torch.Tensor) else NotImplemented,
        "empty": lambda v, call, s: v[:0] if isinstance(v, torch.Tensor) else NotImplemented,
    }
    return {**base, **extra}


BREAKS: dict[str, dict[str, Callable]] = {
    "features": _tensor_breaks({"integer dtype": lambda v, call, s: v.long(),
                                "one dimension": lambda v, call, s: v.flatten()}),
    "logits": _tensor_breaks({"integer dtype": lambda v, call, s: v.long()}),
    "images": _tensor_breaks({"integer dtype": lambda v, call, s: v.long()}),
    "probabilities": _tensor_breaks({"logits, not probabilities": lambda v, call, s: 3 * v - 1,
                                     "integer dtype": lambda v, call, s: v.long()}),
    "labels": _tensor_breaks({"float dtype": lambda v, call, s: v.float(),
                              "a class out of range": lambda v, call, s: torch.where(v == 0, s.classes, v),
                              "a negative class": lambda v, call, s: torch.where(v == 0, -1, v)}),
    "values": {"one more dimension": lambda v, call, s: v.unsqueeze(-1) if isinstance(v, torch.Tensor) else None,
               "not finite": lambda v, call, s: torch.cat([v[:-1], torch.tensor([math.nan], dtype=v.dtype)]),
               "empty": lambda v, call, s: v[:0]},
    "square": {"not square": lambda v, call, s: v[:-1], "not finite": lambda v, call, s: v * math.nan,
               "counts, not shares": lambda v, call, s: v * 100},
    "positive_int": {"zero": lambda v, call, s: 0, "negative": lambda v, call, s: -1, "a float": lambda v, call, s: 2.5,
                     "a bool": lambda v, call, s: True, "a string": lambda v, call, s: "3"},
    "classes": {"one": lambda v, call, s: 1, "zero": lambda v, call, s: 0, "a float": lambda v, call, s: float(v),
                "a bool": lambda v, call, s: True},
    "int": {"a float": lambda v, call, s: 0.5, "a string": lambda v, call, s: "1"},
    "seed": {"a float": lambda v, call, s: 0.5, "a string": lambda v, call, s: "0", "a bool": lambda v, call, s: True},
    "positive_float": {"zero": lambda v, call, s: 0.0, "negative": lambda v, call, s: -1.0, "nan": lambda v, call, s: math.nan,
                       "inf": lambda v, call, s: math.inf, "a string": lambda v, call, s: "1"},
    "nonnegative_float": {"negative": lambda v, call, s: -1.0, "nan": lambda v, call, s: math.nan,
                          "inf": lambda v, call, s: math.inf, "a string": lambda v, call, s: "1"},
    "positive_floats": {"empty": lambda v, call, s: [], "a zero": lambda v, call, s: [1.0, 0.0],
                        "a nan": lambda v, call, s: [1.0, math.nan], "a negative": lambda v, call, s: [-1.0]},
    "progress": {"nan": lambda v, call, s: math.nan, "above 1": lambda v, call, s: 1.5, "negative": lambda v, call, s: -0.1},
    "interval": {"reversed": lambda v, call, s: (1.0, 0.0), "nan": lambda v, call, s: (0.0, math.nan),
                 "one number": lambda v, call, s: 1.0},
    "class_ids": {"one more dimension": lambda v, call, s: v.unsqueeze(-1), "float dtype": lambda v, call, s: v.float(),
                  "empty": lambda v, call, s: v[:0], "a class twice": lambda v, call, s: torch.cat([v, v[:1]]),
                  "a negative class": lambda v, call, s: v - 10},
    "class_list": {"a float": lambda v, call, s: [0, 1.5], "a class out of range": lambda v, call, s: [0, 99],
                   "a class twice": lambda v, call, s: [0, 0, 1]},
    "count_2": {"one": lambda v, call, s: 1, "a float": lambda v, call, s: 2.5, "a bool": lambda v, call, s: True,
                "huge": lambda v, call, s: 10**6},
    "finite_float": {"nan": lambda v, call, s: math.nan, "inf": lambda v, call, s: math.inf, "a string": lambda v, call, s: "1"},
    "digits": {"negative": lambda v, call, s: -1, "a float": lambda v, call, s: 1.5},
    "value_list": {"empty": lambda v, call, s: [], "a nan": lambda v, call, s: v + [math.nan], "nested": lambda v, call, s: [v, v]},
    "proportions": {"one too few": lambda v, call, s: v[:-1], "a nan": lambda v, call, s: v[:-1] + [math.nan],
                    "a negative": lambda v, call, s: v[:-1] + [-1.0], "all zero": lambda v, call, s: [0.0] * len(v),
                    "a string": lambda v, call, s: "uniform"},
    "choice": {"unknown": lambda v, call, s: "no-such-option", "None": lambda v, call, s: None},
}
ROW_BREAK = "one row fewer than its partner"


def defaults(fn: Callable) -> dict:
    return {name: p.default for name, p in inspect.signature(fn).parameters.items() if p.default is not inspect.Parameter.empty}


def breakable(spec: Spec, breaks: dict[str, dict[str, Callable]] = BREAKS) -> list[tuple[str, str]]:
    pairs = [(argument, way) for argument, kind in spec.kinds.items() for way in breaks[kind]]
    return pairs + [(argument, ROW_BREAK) for argument in spec.rows]


def is_finite(result) -> bool:
    if isinstance(result, torch.Tensor):
        return bool(torch.isfinite(result.double()).all()) if result.is_floating_point() else True
    if isinstance(result, np.ndarray):
        return bool(np.isfinite(result).all())
    if isinstance(result, (list, tuple)):
        return all(is_finite(r) for r in result)
    if isinstance(result, dict):
        return all(is_finite(r) for r in result.values())
    return math.isfinite(result) if isinstance(result, (int, float)) else True


def property_tests(specs: dict[str, Spec], breaks: dict[str, dict[str, Callable]] = BREAKS) -> tuple[Callable, Callable]:
    """The two property tests over ``specs``: assign them to ``test_...`` names in a test file."""

    def budget(spec: Spec, default: int) -> Callable:
        return settings(max_examples=min(default, spec.examples) if spec.examples else default)

    @pytest.mark.parametrize("name", sorted(specs))
    def valid_call(name):
        spec = specs[name]

        @budget(spec, settings.default.max_examples)
        @given(sizes=sizes)
        def check(sizes):
            try:
                result = spec.fn(**spec.valid(sizes))
            except ValueError:
                if not spec.may_refuse:
                    raise
                return
            assert is_finite(result), f"{name} returned a non-finite value for a valid call: {result!r}"

        check()

    broken_cases = [(name, argument, way) for name in sorted(specs) for argument, way in breakable(specs[name], breaks)]

    @pytest.mark.parametrize("name,argument,way", broken_cases,
                             ids=[f"{n}-{a}-{w}".replace(" ", "_") for n, a, w in broken_cases])
    def broken_argument(name, argument, way):
        spec = specs[name]

        @budget(spec, max(2, settings.default.max_examples // 5))  # a few sizes for each (function, argument, way): 2 in CI, 100 by hand
        @given(sizes=sizes)
        def check(sizes):
            call = spec.valid(sizes)
            value = call.get(argument, defaults(spec.fn).get(argument))
            if way == ROW_BREAK:
                broken = value[:-1]
            else:
                broken = breaks[spec.kinds[argument]][way](value, call, sizes)
            assert broken is not NotImplemented, f"{way} does not apply to {argument} of {name}: take it off the spec"
            call[argument] = broken
            if way in spec.legal or f"{argument}:{way}" in spec.legal:
                assert is_finite(spec.fn(**call)), f"{name}({argument}={way}) is legal but gave a non-finite result"
                return
            with pytest.raises((ValueError, TypeError)) as error:
                result = spec.fn(**call)
                pytest.fail(f"{name}({argument}={way}) returned {result!r} instead of an error")
            message = str(error.value)
            words = (argument, *spec.names.get(argument, ()))
            assert any(re.search(rf"(?<![\w.]){re.escape(word)}(?![\w])", message) for word in words), \
                f"{name}: the error for {argument} ({way}) does not name it: {message}"

        check()

    return valid_call, broken_argument


def covered(specs: dict[str, Spec]) -> set[str]:
    """The functions ``specs`` covers, named by their module as the meta-test lists them."""
    return {f"{spec.fn.__module__.removeprefix('tlbook.')}.{spec.fn.__qualname__.removesuffix('.__init__')}"
            for spec in specs.values()}
