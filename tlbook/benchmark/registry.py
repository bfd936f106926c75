"""The methods the benchmark knows, by name, each with the configuration its chapter uses."""
from __future__ import annotations

from typing import Callable

from ..methods import CMD, DAN, DDC, DeepCORAL, Method, SourceOnly, TargetOnly
from ..nn import MLP, Classifier, digit_classifier
from ..schedules import dann_lambda

__all__ = ["METHODS", "network", "make_method", "check_names"]


def network(family: str, num_classes: int, bottleneck_activation: str = "relu") -> Classifier:
    """The chapters' network for a domain family: the digit CNN with a 64-unit bottleneck and
    fc100-fc100 (chapter 2), or a small MLP for the 2-D toy domains."""
    if family == "digits":
        return digit_classifier(num_classes=num_classes, bottleneck=64, bottleneck_activation=bottleneck_activation)
    if family == "toy":
        return Classifier(MLP(2, (32, 32)), num_classes, bottleneck=16, bottleneck_activation=bottleneck_activation, hidden=(16, 16))
    raise ValueError(f"the benchmark has no network for the {family!r} family; it knows 'digits' and 'toy'")


#: name -> (family, num_classes) -> a fresh method. Chapter 2's weights and layers; nothing tuned on target labels.
METHODS: dict[str, Callable[[str, int], Method]] = {
    "source-only": lambda f, c: SourceOnly(network(f, c)),
    "target-only": lambda f, c: TargetOnly(network(f, c)),
    "ddc": lambda f, c: DDC(network(f, c), weight=0.25, schedule=dann_lambda),
    "dan": lambda f, c: DAN(network(f, c), schedule=dann_lambda),
    "deep-coral": lambda f, c: DeepCORAL(network(f, c), weight=1.0),
    "cmd": lambda f, c: CMD(network(f, c, "sigmoid"), weight=0.1, schedule=dann_lambda),
}


def check_names(names: list[str], known: dict | list, kind: str) -> None:
    """A clear error listing the known names when some of ``names`` are unknown."""
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(f"unknown {kind} {', '.join(map(repr, unknown))}; known {kind}s: {', '.join(known)}")
    if not names:
        raise ValueError(f"no {kind}s given; known {kind}s: {', '.join(known)}")


def make_method(name: str, family: str, num_classes: int) -> Method:
    """A fresh method ``name`` for a domain family."""
    check_names([name], METHODS, "method")
    return METHODS[name](family, num_classes)
