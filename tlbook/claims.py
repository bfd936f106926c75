"""Claims a notebook makes about its results, checked seed by seed.

A claim compares a *variant* with a *baseline* (another variant run on the same seeds, or a
fixed level such as chance) through the paired differences ``d_s = variant_s − baseline_s``,
one per seed. A mean difference that is smaller than the spread over seeds is not evidence:
floating-point reductions change order with the thread count, the BLAS and the device, and
seed-level results move by a few points when they do. So a claim names a rule on the paired
differences that leaves a margin, for example

- ``every_seed=0``: better on every seed (``min d_s > 0``);
- ``mean_gain=0.05, every_seed=0``: at least 5 points on average and positive on every seed;
- ``standard_errors=2``: mean above two standard errors (``mean d > 2 std(d) / √n``);
- ``mean_below=0.05``: less than 5 points on average (a "does not help" claim).

``claim`` prints the evidence (each seed, the mean and the standard deviation of the
differences) and raises :class:`ClaimFailed` naming the claim and the evidence when the rule
does not hold. ``observe`` prints the same evidence for a comparison that is within noise, and
asserts nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

__all__ = ["ClaimFailed", "Evidence", "claim", "observe"]


class ClaimFailed(AssertionError):
    """A notebook's claim does not hold; the message names it and shows the per-seed evidence."""


class _Runs(Protocol):  # tlbook.experiment.Runs, or anything with per-seed accuracies
    name: str
    seeds: list[int]

    def accuracies(self, eval_set: str = ...) -> np.ndarray: ...


@dataclass(frozen=True)
class Evidence:
    """The per-seed values of a claim and whether its rule holds (values are fractions; shown ×``scale``)."""

    statement: str
    seeds: tuple[int, ...]
    variant: np.ndarray
    baseline: np.ndarray
    names: tuple[str, str]
    rule: str
    holds: bool | None  # None for an observation
    scale: float = 100.0
    digits: int = 1

    @property
    def differences(self) -> np.ndarray:
        return self.variant - self.baseline

    @property
    def mean(self) -> float:
        return float(self.differences.mean())

    @property
    def std(self) -> float:
        return float(self.differences.std(ddof=1))  # a claim has two seeds at least

    def within_noise(self) -> bool:
        """True when the mean difference is less than two standard errors from zero."""
        return abs(self.mean) <= 2 * self.std / np.sqrt(len(self.seeds))

    def table(self) -> str:
        s, (a, b), f = self.scale, self.names, self.digits
        width = max(len(a), len(b), 10)
        lines = [f"{'seed':>6} | {a:>{width}} | {b:>{width}} | difference",
                 f"{'-' * 6}-+-{'-' * width}-+-{'-' * width}-+-----------"]
        for seed, v, w in zip(self.seeds, self.variant, self.baseline):
            lines.append(f"{seed:>6} | {s * v:>{width}.{f}f} | {s * w:>{width}.{f}f} | {s * (v - w):+10.{f}f}")
        lines.append(f"{'mean':>6} | {s * self.variant.mean():>{width}.{f}f} | {s * self.baseline.mean():>{width}.{f}f} | "
                     f"{s * self.mean:+10.{f}f} ± {s * self.std:.{f}f} (std over {len(self.seeds)} seeds)")
        return "\n".join(lines)

    def __str__(self) -> str:
        if self.holds is None:
            verdict = ("within noise (|mean| ≤ 2 standard errors): an observation, not a claim" if self.within_noise()
                       else "outside noise, but not asserted")
            head = f"Observation: {self.statement}"
        else:
            verdict = "holds" if self.holds else "DOES NOT HOLD"
            head = f"Claim: {self.statement}"
        return f"{head}\nrule: {self.rule}\n{self.table()}\n→ {verdict}"


def _values(x: _Runs | Sequence[float] | np.ndarray | float, eval_set: str) -> tuple[np.ndarray | float, list[int] | None, str | None]:
    if hasattr(x, "accuracies") and hasattr(x, "seeds"):
        return np.asarray(x.accuracies(eval_set), dtype=float), list(x.seeds), getattr(x, "name", None)
    if np.ndim(x) == 0:
        return float(x), None, None
    return np.asarray(x, dtype=float), None, None


def _pair(variant, baseline, seeds, names, eval_set) -> tuple[tuple[int, ...], np.ndarray, np.ndarray, tuple[str, str]]:
    v, v_seeds, v_name = _values(variant, eval_set)
    b, b_seeds, b_name = _values(baseline, eval_set)
    if np.ndim(v) == 0:
        raise ValueError("the variant needs one value per seed (an array or a tlbook.experiment.Runs), got a single number")
    seeds = list(seeds) if seeds is not None else v_seeds if v_seeds is not None else list(range(len(v)))
    if len(seeds) != len(v):
        raise ValueError(f"{len(v)} variant values for {len(seeds)} seeds {seeds}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct to be paired, got {seeds}")
    level = np.ndim(b) == 0
    if level:
        b = np.full(len(v), b)
    elif b_seeds is not None:  # pair by seed with the baseline's runs
        missing = set(seeds) - set(b_seeds)
        if missing:
            raise ValueError(f"the baseline did not run seeds {sorted(missing)} (it ran {b_seeds}); a claim pairs seeds")
        b = b[[b_seeds.index(s) for s in seeds]]
    elif len(b) != len(v):
        raise ValueError(f"{len(v)} variant values but {len(b)} baseline values: a claim pairs them seed by seed")
    if len(v) < 2:
        raise ValueError("a claim needs at least two seeds: one seed says nothing about the spread")
    names = names or (v_name or "variant", b_name or ("level" if level else "baseline"))
    return tuple(seeds), v, b, tuple(names)


def _rule(mean_gain, every_seed, standard_errors, mean_below, every_seed_below, scale, digits) -> list[tuple[str, Callable[[np.ndarray], bool]]]:
    rules = []
    if mean_gain is not None:
        rules.append((f"mean difference ≥ {scale * mean_gain:+.{digits}f}", lambda d: d.mean() >= mean_gain))
    if every_seed is not None:
        rules.append((f"difference > {scale * every_seed:+.{digits}f} on every seed", lambda d: d.min() > every_seed))
    if standard_errors is not None:
        rules.append((f"mean difference > {standard_errors:g} standard errors",
                      lambda d: d.mean() > standard_errors * d.std(ddof=1) / np.sqrt(len(d))))
    if mean_below is not None:
        rules.append((f"mean difference < {scale * mean_below:+.{digits}f}", lambda d: d.mean() < mean_below))
    if every_seed_below is not None:
        rules.append((f"difference < {scale * every_seed_below:+.{digits}f} on every seed", lambda d: d.max() < every_seed_below))
    return rules


def claim(
    statement: str,
    variant: _Runs | Sequence[float] | np.ndarray,
    baseline: _Runs | Sequence[float] | np.ndarray | float = 0.0,
    *,
    seeds: Sequence[int] | None = None,
    names: tuple[str, str] | None = None,
    mean_gain: float | None = None,
    every_seed: float | None = None,
    standard_errors: float | None = None,
    mean_below: float | None = None,
    every_seed_below: float | None = None,
    eval_set: str = "target test",
    scale: float = 100.0,
    digits: int = 1,
    quiet: bool = False,
) -> Evidence:
    """Check a paired, per-seed rule on ``variant − baseline``; print the evidence; raise if it fails.

    ``variant`` and ``baseline`` are per-seed values (fractions, e.g. accuracies) or
    :class:`tlbook.experiment.Runs` (their ``eval_set`` accuracies, paired by seed);
    ``baseline`` may be a single level (e.g. chance, or 0.9). Every rule given must hold;
    thresholds are in the values' units (0.05 = 5 points of accuracy). ``scale`` and
    ``digits`` only affect the printout (``scale=1`` for values that are not fractions).
    """
    seeds, v, b, names = _pair(variant, baseline, seeds, names, eval_set)
    rules = _rule(mean_gain, every_seed, standard_errors, mean_below, every_seed_below, scale, digits)
    if not rules:
        raise ValueError("state the claim's rule: mean_gain, every_seed, standard_errors, mean_below or every_seed_below")
    d = v - b
    holds = all(check(d) for _, check in rules)
    evidence = Evidence(statement, seeds, v, b, names, " and ".join(text for text, _ in rules), bool(holds), scale, digits)
    if holds and not quiet:
        print(evidence, end="\n\n")
    if not holds:  # the message carries the evidence
        raise ClaimFailed(f"the notebook's claim does not hold on this run.\n{evidence}")
    return evidence


def observe(
    statement: str,
    variant: _Runs | Sequence[float] | np.ndarray,
    baseline: _Runs | Sequence[float] | np.ndarray | float = 0.0,
    *,
    seeds: Sequence[int] | None = None,
    names: tuple[str, str] | None = None,
    eval_set: str = "target test",
    scale: float = 100.0,
    digits: int = 1,
    quiet: bool = False,
) -> Evidence:
    """Print the per-seed evidence of a comparison without asserting anything (for what is within noise)."""
    seeds, v, b, names = _pair(variant, baseline, seeds, names, eval_set)
    evidence = Evidence(statement, seeds, v, b, names, "none (printed, not asserted)", None, scale, digits)
    if not quiet:
        print(evidence, end="\n\n")
    return evidence
