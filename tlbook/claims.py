"""Claims a notebook makes about its results, checked seed by seed with a stated statistical rule.

A claim compares a *variant* with a *baseline* (another configuration run on the same seeds, or a
fixed level such as chance) through the paired differences ``d_s = variant_s − baseline_s``, one per
seed. Seed-level results move by a few points with the thread count, the BLAS and the device, so a
claim never rests on a mean alone. Each rule below carries its statistics, computed with
:mod:`scipy.stats` at a stated level (5 % unless told otherwise):

- :func:`greater` — the variant is higher: a one-sided paired t-test of ``mean d > by``
  (``every_seed=True`` adds: ``d_s > 0`` on every seed);
- :func:`less` — the variant is lower (the same test on ``−d``);
- :func:`equivalent` — "no better and no worse", "within noise", "either way": two one-sided tests
  (TOST), i.e. the ``1 − 2·level`` confidence interval of ``mean d`` lies inside ``±margin``;
- :func:`above` / :func:`below` — an absolute bound that every seed clears (``variant_s > level`` or
  ``variant_s < level``), no statistics needed;
- :func:`observe` — prints the evidence and asserts nothing (what is within noise).

The t quantile with ``n − 1`` degrees of freedom is large for few seeds (one-sided 95 %: 6.31 at
``n = 2``, 2.92 at ``n = 3``, 2.13 at ``n = 5``), so a claim on three seeds needs a mean difference of
about 1.7 standard deviations of ``d``. (A sign or Wilcoxon test cannot reach 5 % with fewer than five
seeds: its smallest one-sided p-value is ``2^−n``.)

A claim shows one line (statement → verdict, with the rule's figure); in a notebook the per-seed table
folds away under it. A rule that does not hold raises :class:`ClaimFailed` with the whole evidence.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, Sequence

import numpy as np

from . import _checks

__all__ = ["ClaimFailed", "Evidence", "SeedValues", "above", "below", "equivalent", "greater", "less", "observe", "paired",
           "t_quantile"]

LEVEL = 0.05  # the default significance level of every test


class ClaimFailed(AssertionError):
    """A notebook's claim does not hold; the message names it and shows the per-seed evidence."""


class _Runs(Protocol):  # tlbook.experiment.Runs, or anything with per-seed accuracies
    name: str
    seeds: list[int]

    def accuracies(self, eval_set: str = ...) -> np.ndarray: ...


Values = "_Runs | Sequence[float] | np.ndarray"


def t_quantile(n: int, level: float = LEVEL) -> float:
    """The one-sided ``1 − level`` quantile of Student's t with ``n − 1`` degrees of freedom (``n`` seeds)."""
    n = _checks.integer(n, "n", "t_quantile", minimum=2)  # n − 1 ≥ 1 degree of freedom: one seed has no spread
    level = _open_level(level, "t_quantile", high=1.0, what="a probability")
    from scipy import stats  # here, not at the top: scipy.stats takes half a second to import, every page pays it

    if level < 1e-6:  # 1 − level rounds off there (to 1: an infinite quantile); isf is exact
        return float(stats.t.isf(level, n - 1))
    return float(stats.t.ppf(1 - level, n - 1))


def _open_level(level: object, where: str, high: float = 0.5, what: str = "a significance level") -> float:
    """A level strictly inside ``(0, high)``."""
    level = _checks.number(level, "level", where)
    if not 0 < level < high:
        raise ValueError(f"{where}: level must be {what} in (0, {high:g}), got {level!r}")
    return level


def _seed_list(seeds: object, name: str, where: str) -> list[int]:
    """Distinct integer seeds, as a list."""
    if isinstance(seeds, (str, bytes, dict)) or not hasattr(seeds, "__len__") or np.ndim(seeds) != 1:
        raise TypeError(f"{where}: {name} must be a list of integer seeds, got {_checks._got(seeds)}")
    seeds = [_checks.integer(seed, f"every seed in {name}", where, minimum=None) for seed in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{where}: {name} must be distinct to be paired, got {seeds}")
    return seeds


def _numbers(values: object, name: str, where: str) -> np.ndarray:
    """One number or one number per seed (a 0-d or 1-D float array); any other shape or type is refused."""
    if isinstance(values, (str, bytes, dict)):
        raise TypeError(f"{where}: {name} must be one number per seed, got {_checks._got(values)}")
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: {name} must be one number per seed, got {_checks._got(values)}") from None
    if array.ndim > 1:
        raise ValueError(f"{where}: {name} needs one value per seed, a 1-D array; got shape {array.shape}")
    return array


@dataclass(frozen=True)
class Evidence:
    """The per-seed values of a claim, its rule and verdict (values are fractions; shown ×``scale``)."""

    statement: str
    seeds: tuple[int, ...]
    variant: np.ndarray
    baseline: np.ndarray
    names: tuple[str, str]
    rule: str
    holds: bool | None  # None for an observation
    figure: str = ""  # the rule's figure in words, e.g. "p = 0.003"
    scale: float = 100.0
    digits: int = 1
    _shown: list = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = "Evidence"
        for name in ("statement", "rule", "figure"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{where}: {name} must be a str, got {_checks._got(getattr(self, name))}")
        seeds = _seed_list(self.seeds, "seeds", where)
        if len(seeds) < 2:
            raise ValueError(f"{where}: seeds needs at least two seeds (a spread needs two), got {seeds}")
        for name in ("variant", "baseline"):
            values = _numbers(getattr(self, name), name, where)
            if values.shape != (len(seeds),):
                raise ValueError(f"{where}: {name} must hold one value for each of the {len(seeds)} seeds, got shape {values.shape}")
            if not np.isfinite(values).all():
                raise ValueError(f"{where}: {name} must be finite values, got {values.tolist()}")
            object.__setattr__(self, name, values)  # the same array when one was given
        object.__setattr__(self, "seeds", tuple(self.seeds))
        _check_names(self.names, where, allow_none=False)
        if self.holds is not None and not isinstance(self.holds, bool):
            raise TypeError(f"{where}: holds must be True, False or None, got {_checks._got(self.holds)}")
        _check_display(self.scale, self.digits, where)

    @property
    def differences(self) -> np.ndarray:
        return self.variant - self.baseline

    @property
    def mean(self) -> float:
        return float(self.differences.mean())

    @property
    def std(self) -> float:
        return float(self.differences.std(ddof=1))  # a claim has two seeds at least

    def interval(self, level: float = LEVEL) -> tuple[float, float]:
        """The two-sided ``1 − 2·level`` confidence interval of the mean difference (t, ``n − 1`` d.o.f.)."""
        half = t_quantile(len(self.seeds), level) * self.std / np.sqrt(len(self.seeds))
        return self.mean - half, self.mean + half

    def within_noise(self, level: float = LEVEL) -> bool:
        """True when the confidence interval of the mean difference contains zero."""
        low, high = self.interval(level)
        return low <= 0 <= high

    @property
    def verdict(self) -> str:
        if self.holds is None:
            return "within noise (printed, not asserted)" if self.within_noise() else "outside noise (printed, not asserted)"
        return "holds" if self.holds else "DOES NOT HOLD"

    def line(self) -> str:
        """One line: the statement, the verdict and the rule's figure."""
        s, f = self.scale, self.digits
        unit = " points" if s == 100 else ""
        gap = f"{s * self.mean:+.{f}f} ± {s * self.std:.{f}f}{unit} over {len(self.seeds)} seeds"
        head = "Observation" if self.holds is None else "Claim"
        return f"{head}: {self.statement} → {self.verdict} ({gap}{'; ' + self.figure if self.figure else ''})"

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
        return f"{self.line()}\nrule: {self.rule}\n{self.table()}"

    def __repr__(self) -> str:
        return self.line()

    def _repr_html_(self) -> str:
        details = html.escape(f"rule: {self.rule}\n{self.table()}")
        return (f"<details class='tlbook-claim'><summary>{html.escape(self.line())}</summary>"
                f"<pre>{details}</pre></details>")

    def _ipython_display_(self) -> None:  # shown once: a cell ending in a claim does not show it twice
        if not self._shown:
            self.show()

    def show(self) -> None:
        """Display the claim: one line with its evidence folded under it in a notebook, the whole text elsewhere."""
        self._shown.append(True)
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            get_ipython = None  # noqa: N806
        if get_ipython is not None and get_ipython() is not None:
            display({"text/plain": str(self), "text/html": self._repr_html_()}, raw=True)
        else:
            print(self, end="\n\n")


class _SeedValues(NamedTuple):
    seeds: list[int]
    values: np.ndarray


class SeedValues(_SeedValues):
    """One configuration's value on each seed, with the seeds: what pairing by seed needs (e.g.
    ``tlbook.benchmark.seed_accuracies``). A dict ``{seed: value}`` pairs the same way."""

    __slots__ = ()

    def __new__(cls, seeds: Sequence[int], values: Sequence[float] | np.ndarray) -> "SeedValues":
        checked = _seed_list(seeds, "seeds", "SeedValues")
        array = _numbers(values, "values", "SeedValues")
        if array.shape != (len(checked),):
            raise ValueError(f"SeedValues: seeds and values must have one entry per seed each, got {len(checked)} seeds "
                             f"and values of shape {array.shape}")
        if not np.isfinite(array).all():
            raise ValueError(f"SeedValues: values must be finite, got {array.tolist()}")
        return super().__new__(cls, seeds, values)


def _values(x, name: str, where: str, eval_set: str) -> tuple[np.ndarray | float, list[int] | None, str | None]:
    """Values, their seeds (None: plain values) and their name, from any form a claim accepts."""
    if isinstance(x, SeedValues):
        raw, seeds, label = x.values, x.seeds, None
    elif isinstance(x, dict):  # {seed: value}
        raw, seeds, label = list(x.values()), list(x), None
    elif hasattr(x, "accuracies") and hasattr(x, "seeds"):
        raw, seeds, label = x.accuracies(eval_set), x.seeds, getattr(x, "name", None)
    else:
        raw, seeds, label = x, None, None
    values = _numbers(raw, name, where)
    if seeds is not None:
        seeds = _seed_list(seeds, f"the seeds of {name}", where)
        if values.shape != (len(seeds),):
            raise ValueError(f"{where}: {name} has {values.size} values for {len(seeds)} seeds {seeds}")
    return (float(values) if values.ndim == 0 else values), seeds, label


def _check_names(names: object, where: str, allow_none: bool = True) -> None:
    """Two labels (a label may be None where a default stands in)."""
    ok = isinstance(names, (tuple, list)) and len(names) == 2 and all(
        isinstance(n, str) or (allow_none and n is None) for n in names)
    if not ok:
        raise TypeError(f"{where}: names must be two labels (variant, baseline), e.g. ('DANN', 'source only'), "
                        f"got {_checks._got(names)}")


def _check_display(scale: object, digits: object, where: str) -> None:
    _checks.number(scale, "scale", where, low=0, low_open=True)
    _checks.integer(digits, "digits", where, minimum=0)


def paired(variant, baseline=0.0, *, seeds: Sequence[int] | None = None, eval_set: str = "target test",
           min_seeds: int = 2) -> tuple[tuple[int, ...], np.ndarray, np.ndarray, tuple[str | None, str | None]]:
    """Pair ``variant`` and ``baseline`` seed by seed: ``(seeds, variant values, baseline values, names)``.
    The one place the book pairs runs: claims, ``comparison_table`` and the studies' gains all call it.

    Either may be a :class:`tlbook.experiment.Runs` (its ``eval_set`` accuracies, paired by seed), a
    ``SeedValues`` (seeds and values, e.g. stored cells), a dict ``{seed: value}`` or per-seed values (seeds
    ``seeds``, or 0, 1, ...); the baseline may also be one number (a level such as chance). A seed of the
    variant that the baseline lacks is named. A claim needs ``min_seeds`` = 2; a table shows one seed too.
    """
    return _pair(variant, baseline, seeds, eval_set, min_seeds, "paired")


def _pair(variant, baseline, seeds, eval_set, min_seeds, where):
    if not isinstance(eval_set, str):
        raise TypeError(f"{where}: eval_set must be the name of an evaluation set, got {_checks._got(eval_set)}")
    min_seeds = _checks.integer(min_seeds, "min_seeds", where, minimum=1)
    v, v_seeds, v_name = _values(variant, "variant", where, eval_set)
    b, b_seeds, b_name = _values(baseline, "baseline", where, eval_set)
    if np.ndim(v) == 0:
        raise ValueError(f"{where}: the variant needs one value per seed (an array or a tlbook.experiment.Runs), got a single number")
    if seeds is not None:
        seeds = _seed_list(seeds, "seeds", where)
        if v_seeds is not None and seeds != v_seeds:
            raise ValueError(f"{where}: seeds {seeds} differ from the variant's own seeds {v_seeds}: give one or the other")
    seeds = seeds if seeds is not None else v_seeds if v_seeds is not None else list(range(len(v)))
    if len(seeds) != len(v):
        raise ValueError(f"{where}: {len(v)} variant values for {len(seeds)} seeds {seeds}")
    level = np.ndim(b) == 0
    if level:
        b = np.full(len(v), b)
    elif b_seeds is not None:  # pair by seed with the baseline's runs
        missing = [s for s in seeds if s not in b_seeds]
        if missing:
            raise ValueError(f"{where}: the baseline did not run seeds {sorted(missing)} (it ran {b_seeds}); a claim pairs seeds")
        b = b[[b_seeds.index(s) for s in seeds]]
    elif np.shape(b) != np.shape(v):
        raise ValueError(f"{where}: {len(v)} variant values but baseline of shape {np.shape(b)}: a claim pairs them seed by seed")
    if len(v) < min_seeds:
        raise ValueError(f"{where}: a claim needs at least two seeds: one seed says nothing about the spread, got {len(v)}"
                         if min_seeds == 2 else f"{where}: at least {min_seeds} seed(s) needed, got {len(v)}")
    for name, values in (("variant", v), ("baseline", b)):
        if not np.isfinite(values).all():
            raise ValueError(f"{where}: a claim needs finite values; the {name} has {values.tolist()} on seeds {seeds}")
    return tuple(seeds), v, b, (v_name, b_name or ("level" if level else None))


def _one_sided_p(d: np.ndarray, by: float) -> float:
    """p-value of the one-sided paired t-test of ``mean d > by`` (0 or 1 when every ``d`` is equal)."""
    if np.ptp(d) == 0:
        return 0.0 if d[0] > by else 1.0
    from scipy import stats

    return float(stats.ttest_1samp(d - by, 0.0, alternative="greater").pvalue)


def _decide(statement, variant, baseline, *, sign, rule, figure_and_holds, seeds, names, eval_set, scale, digits,
            quiet, where) -> Evidence:
    if not isinstance(statement, str):  # e.g. greater(runs_a, runs_b): the claim would be about runs_b alone
        raise TypeError(f"{where}: statement must be the claim in words (a str), first, got {_checks._got(statement)}")
    if names is not None:
        _check_names(names, where)
    _check_display(scale, digits, where)
    if not isinstance(quiet, bool):
        raise TypeError(f"{where}: quiet must be True or False, got {_checks._got(quiet)}")
    seeds, v, b, found = _pair(variant, baseline, seeds, eval_set, 2, where)
    given = tuple(names) if names else (None, None)
    names = (given[0] or found[0] or "variant", given[1] or found[1] or "baseline")
    figure, holds = figure_and_holds(sign * (v - b)) if figure_and_holds else ("", None)
    holds = None if holds is None else bool(holds)  # a NumPy bool is never `is False`
    evidence = Evidence(statement, seeds, v, b, names, rule, holds, figure, scale, digits)
    if holds is False:  # the message carries the evidence
        raise ClaimFailed(f"the notebook's claim does not hold on this run.\n{evidence}")
    if not quiet:
        evidence.show()
    return evidence


def _shift(by: float, scale: float, digits: int) -> str:
    return f" by more than {scale * by:.{digits}f}" if by else ""


def greater(statement: str, variant: Values, baseline: Values | float = 0.0, *, by: float = 0.0,
            every_seed: bool = False, level: float = LEVEL, seeds: Sequence[int] | None = None,
            names: tuple[str, str] | None = None, eval_set: str = "target test", scale: float = 100.0,
            digits: int = 1, quiet: bool = False) -> Evidence:
    """Claim that ``variant`` exceeds ``baseline`` by more than ``by`` on average, at significance ``level``.

    The rule is a one-sided paired t-test (``H0: mean d ≤ by``, ``d = variant − baseline`` per seed);
    ``every_seed=True`` also requires ``d > 0`` on every seed. Thresholds are in the values' units
    (0.05 = 5 points of accuracy); ``scale`` and ``digits`` only affect what is shown.
    """
    return _directed(statement, variant, baseline, +1, "exceeds", by, every_seed, level, seeds, names, eval_set,
                     scale, digits, quiet, "greater")


def less(statement: str, variant: Values, baseline: Values | float = 0.0, *, by: float = 0.0,
         every_seed: bool = False, level: float = LEVEL, seeds: Sequence[int] | None = None,
         names: tuple[str, str] | None = None, eval_set: str = "target test", scale: float = 100.0,
         digits: int = 1, quiet: bool = False) -> Evidence:
    """Claim that ``variant`` falls below ``baseline`` by more than ``by`` on average (the mirror of :func:`greater`)."""
    return _directed(statement, variant, baseline, -1, "falls below", by, every_seed, level, seeds, names, eval_set,
                     scale, digits, quiet, "less")


def _directed(statement, variant, baseline, sign, verb, by, every_seed, level, seeds, names, eval_set, scale, digits,
              quiet, where) -> Evidence:
    _check_display(scale, digits, where)  # the rule's text uses them
    level = _open_level(level, where)
    by = _checks.number(by, "by", where)
    if by < 0:
        raise ValueError(f"{where}: by must be a finite margin ≥ 0 (in the values' units), got {by!r}")
    if not isinstance(every_seed, bool):
        raise TypeError(f"{where}: every_seed must be True or False, got {_checks._got(every_seed)}")
    rule = (f"one-sided paired t-test at {level:g}: the variant {verb} the baseline{_shift(by, scale, digits)} on average"
            + (f", and {verb} it on every seed" if every_seed else ""))

    def decide(d: np.ndarray) -> tuple[str, bool]:
        p = _one_sided_p(d, by)
        every = bool((d > 0).all())
        figure = f"p = {p:.2g}" + (f", worst seed {sign * scale * d.min():+.{digits}f}" if every_seed else "")
        return figure, p < level and (every or not every_seed)

    return _decide(statement, variant, baseline, sign=sign, rule=rule, figure_and_holds=decide, seeds=seeds,
                   names=names, eval_set=eval_set, scale=scale, digits=digits, quiet=quiet, where=where)


def equivalent(statement: str, variant: Values, baseline: Values | float = 0.0, *, margin: float,
               level: float = LEVEL, seeds: Sequence[int] | None = None, names: tuple[str, str] | None = None,
               eval_set: str = "target test", scale: float = 100.0, digits: int = 1, quiet: bool = False) -> Evidence:
    """Claim that ``variant`` and ``baseline`` differ by less than ``margin`` either way (TOST).

    Two one-sided paired t-tests at ``level``: the ``1 − 2·level`` confidence interval of the mean
    difference must lie inside ``(−margin, +margin)``. With few seeds the interval is wide, so the
    margin a page can claim is set by the seed spread, not by the mean alone.
    """
    _check_display(scale, digits, "equivalent")
    level = _open_level(level, "equivalent")
    margin = _checks.number(margin, "margin", "equivalent")
    if margin <= 0:
        raise ValueError(f"equivalent: margin must be a finite number > 0 (in the values' units), got {margin!r}")
    rule = f"equivalence (two one-sided t-tests at {level:g}): the {100 * (1 - 2 * level):g}% interval of the mean difference lies inside ±{scale * margin:.{digits}f}"

    def decide(d: np.ndarray) -> tuple[str, bool]:
        half = t_quantile(len(d), level) * d.std(ddof=1) / np.sqrt(len(d))
        low, high = d.mean() - half, d.mean() + half
        figure = f"{100 * (1 - 2 * level):g}% interval [{scale * low:+.{digits}f}, {scale * high:+.{digits}f}]"
        return figure, -margin < low and high < margin

    return _decide(statement, variant, baseline, sign=+1, rule=rule, figure_and_holds=decide, seeds=seeds, names=names,
                   eval_set=eval_set, scale=scale, digits=digits, quiet=quiet, where="equivalent")


def above(statement: str, variant: Values, level: float, *, seeds: Sequence[int] | None = None,
          names: tuple[str, str] | None = None, eval_set: str = "target test", scale: float = 100.0, digits: int = 1,
          quiet: bool = False) -> Evidence:
    """Claim an absolute bound: ``variant`` is above ``level`` on every seed."""
    return _bound(statement, variant, level, +1, seeds, names, eval_set, scale, digits, quiet, "above")


def below(statement: str, variant: Values, level: float, *, seeds: Sequence[int] | None = None,
          names: tuple[str, str] | None = None, eval_set: str = "target test", scale: float = 100.0, digits: int = 1,
          quiet: bool = False) -> Evidence:
    """Claim an absolute bound: ``variant`` is below ``level`` on every seed."""
    return _bound(statement, variant, level, -1, seeds, names, eval_set, scale, digits, quiet, "below")


def _bound(statement, variant, level, sign, seeds, names, eval_set, scale, digits, quiet, where) -> Evidence:
    _check_display(scale, digits, where)
    level = _checks.number(level, "level", where)  # an absolute bound needs one finite level
    word = "above" if sign > 0 else "below"
    rule = f"{word} {scale * level:.{digits}f} on every seed"

    def decide(d: np.ndarray) -> tuple[str, bool]:
        worst = d.min()  # d is sign · (variant − level)
        return f"worst seed {sign * scale * worst:+.{digits}f} from the bound", bool(worst > 0)

    return _decide(statement, variant, float(level), sign=sign, rule=rule, figure_and_holds=decide, seeds=seeds,
                   names=names or (None, "level"), eval_set=eval_set, scale=scale, digits=digits, quiet=quiet, where=where)


def observe(statement: str, variant: Values, baseline: Values | float = 0.0, *, seeds: Sequence[int] | None = None,
            names: tuple[str, str] | None = None, eval_set: str = "target test", scale: float = 100.0, digits: int = 1,
            quiet: bool = False) -> Evidence:
    """Show the per-seed evidence of a comparison without asserting anything (for what is within noise)."""
    return _decide(statement, variant, baseline, sign=+1, rule="none (printed, not asserted)", figure_and_holds=None,
                   seeds=seeds, names=names, eval_set=eval_set, scale=scale, digits=digits, quiet=quiet, where="observe")
