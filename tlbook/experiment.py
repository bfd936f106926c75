"""Repeat a training run over seeds and summarise it as mean ± std."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from tqdm import tqdm  # text bars: they read the same in a terminal, a notebook and the rendered book

from . import _checks
from ._utils import seed_everything
from .claims import paired
from .data import Domain
from .methods import Method
from .train import History, fit

__all__ = ["Runs", "comparison_table", "glue", "markdown_table", "mean_std", "repeat"]


def mean_std(values: Sequence[float], scale: float = 100.0, digits: int = 1) -> str:
    """``"54.3 ± 1.2"``: mean and sample standard deviation (ddof=1), times ``scale``."""
    scale = _checks.number(scale, "scale", "mean_std")
    digits = _checks.integer(digits, "digits", "mean_std", minimum=0)
    values = np.asarray(values, dtype=float) * scale
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"mean_std: values must be a non-empty list of numbers (one per seed), got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"mean_std: values must be finite, got {values.tolist()}")
    std = values.std(ddof=1) if values.size > 1 else 0.0
    return f"{values.mean():.{digits}f} ± {std:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """The one way the book writes a results table: a Markdown table of ``header`` and ``rows`` (each
    cell formatted with ``str``; a ``|`` inside a cell is escaped). Show it with
    ``display(Markdown(markdown_table(...)))``."""
    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    def cells(value: object, name: str) -> list:  # a string is one cell's text, never a row of letters
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
            raise TypeError(f"markdown_table: {name} must be a list of cells, got {_checks._got(value)}")
        return list(value)

    header = cells(header, "header")
    if not header:
        raise ValueError("markdown_table: header must name at least one column, got []")
    if isinstance(rows, (str, bytes, dict)) or not hasattr(rows, "__iter__"):
        raise TypeError(f"markdown_table: rows must be a list of rows, got {_checks._got(rows)}")
    rows = [cells(row, "every row in rows") for row in rows]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"markdown_table: a row has {len(row)} cells and the header {len(header)} (every row in "
                             f"rows needs one cell per column): {list(row)}")
    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])


@dataclass
class Runs:
    """The trained methods and histories of one configuration, one per seed."""

    name: str
    seeds: list[int]
    methods: list[Method] = field(repr=False)
    histories: list[History] = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"Runs: name must be a string, got {_checks._got(self.name)}")
        self.seeds = _seeds(self.seeds, "Runs")
        for name in ("methods", "histories"):
            if not isinstance(getattr(self, name), (list, tuple)):
                raise TypeError(f"Runs: {name} must be a list, one per seed, got {_checks._got(getattr(self, name))}")
        if not all(isinstance(h, History) for h in self.histories):
            raise TypeError(f"Runs: histories must be the History of each run, got {[type(h).__name__ for h in self.histories]}")

    def accuracies(self, eval_set: str = "target test") -> np.ndarray:
        """Final accuracy on ``eval_set`` of every seed's run."""
        if len(self.histories) != len(self.seeds):
            raise ValueError(f"Runs {self.name!r}: {len(self.histories)} histories for {len(self.seeds)} seeds {self.seeds}")
        missing = [seed for seed, h in zip(self.seeds, self.histories) if not h.evals.get(eval_set)]
        if missing:
            recorded = sorted({name for h in self.histories for name in h.evals})
            raise ValueError(f"Runs {self.name!r}: eval_set {eval_set!r} was not recorded by the run(s) of seed(s) "
                             f"{missing}; recorded: {recorded}")
        return np.array([h.final(eval_set) for h in self.histories])

    def summary(self, eval_set: str = "target test") -> str:
        return mean_std(self.accuracies(eval_set))

    @property
    def seconds(self) -> float:
        """Mean training time per run."""
        return float(np.mean([h.seconds for h in self.histories]))

    @classmethod
    def joined(cls, name: str, parts: Sequence["Runs"]) -> "Runs":
        """One configuration's runs made seed by seed (e.g. each seed starting from its own network or
        its own estimate), as one ``Runs``; a seed may appear once."""
        parts = list(parts) if hasattr(parts, "__iter__") and not isinstance(parts, (str, dict)) else [parts]
        if not all(isinstance(part, Runs) for part in parts):
            raise TypeError(f"joined: parts must be a list of Runs, got {[type(part).__name__ for part in parts]}")
        seeds = [seed for part in parts for seed in part.seeds]
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"joined needs at least one run and no seed twice, got seeds {seeds}")
        return cls(name, seeds, [m for part in parts for m in part.methods], [h for part in parts for h in part.histories])


def repeat(
    make_method: Callable[[], Method],
    source: Domain,
    target: Domain | None,
    seeds: Sequence[int] = (0, 1, 2),
    name: str = "",
    progress_bar: bool = True,
    **fit_options,
) -> Runs:
    """Train a fresh ``make_method()`` once per seed with ``fit(..., seed=seed, **fit_options)``.

    Each run seeds every generator first, so weights, batches and dropout are
    reproducible. A single progress bar counts the runs.
    """
    if not callable(make_method) or isinstance(make_method, Method):  # a method would be trained again, seed after seed
        raise TypeError("repeat: make_method must be a function () -> Method that builds a fresh method, "
                        f"got {_checks._got(make_method)}")
    seeds = _seeds(seeds, "repeat")
    if not isinstance(name, str):
        raise TypeError(f"repeat: name must be a string, got {_checks._got(name)}")
    if not isinstance(progress_bar, bool):
        raise TypeError(f"repeat: progress_bar must be True or False, got {_checks._got(progress_bar)}")
    if "seed" in fit_options:
        raise TypeError("repeat: give the seeds as seeds=[...], not seed=: each run takes its own")
    methods, histories = [], []
    for seed in tqdm(seeds, desc=name or "seeds", disable=not progress_bar, leave=False):
        seed_everything(seed)
        method = make_method()
        if not isinstance(method, Method):
            raise TypeError(f"repeat: make_method must return a fresh Method, got {_checks._got(method)}")
        histories.append(fit(method, source, target, seed=seed, progress_bar=False, **fit_options))
        methods.append(method)
    return Runs(name, list(seeds), methods, histories)


def _seeds(seeds: object, where: str) -> list[int]:
    """A non-empty list of distinct, non-negative integer seeds."""
    if isinstance(seeds, (str, bytes, dict)) or not hasattr(seeds, "__len__") or np.ndim(seeds) != 1:
        raise TypeError(f"{where}: seeds must be a list of integer seeds, got {_checks._got(seeds)}")
    seeds = [_checks.integer(seed, "seeds", where, minimum=0) for seed in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"{where}: seeds must be at least one seed and no seed twice, got {seeds}")
    return seeds


def comparison_table(runs: Sequence[Runs], baseline: Runs | None = None) -> str:
    """A Markdown table: target-test and source-test accuracy (mean ± std over seeds), and
    the gain over ``baseline`` computed seed by seed (each run's seeds must be among the
    baseline's). A run with fewer seeds than the others says how many it has."""
    if isinstance(runs, dict):
        raise TypeError("comparison_table: runs must be a list of Runs (for a dict, list(runs.values())), "
                        f"got {_checks._got(runs)}")
    if isinstance(runs, (str, bytes)) or not hasattr(runs, "__iter__"):
        raise TypeError(f"comparison_table: runs must be a list of Runs, got {_checks._got(runs)}")
    runs = list(runs)
    if not all(isinstance(r, Runs) for r in runs):
        raise TypeError(f"comparison_table: runs must be a list of Runs, got {[type(r).__name__ for r in runs]}")
    if baseline is not None and not isinstance(baseline, Runs):
        raise TypeError(f"comparison_table: baseline must be a Runs or None, got {_checks._got(baseline)}")
    header = ["method", "target test (%)", "source test (%)"] + (["gain over baseline (points)"] if baseline else [])
    rows = []
    for r in runs:
        name = r.name if len(r.seeds) == len(runs[0].seeds) else f"{r.name} ({len(r.seeds)} seed{'s' if len(r.seeds) > 1 else ''})"
        row = [name, r.summary(), r.summary("source test")]
        if baseline is not None:
            _, mine, theirs, _ = paired(r, baseline, min_seeds=1)
            row.append(mean_std(mine - theirs))
        rows.append(row)
    return markdown_table(header, rows)


def glue(name: str, value: object) -> None:
    """Hand a computed value to the page's prose, where ``{glue:text}`name:.1f``` quotes it, so the text
    and the tables next to it come from the same run and cannot drift apart (myst-nb's ``glue``).
    Where myst-nb is not installed (e.g. a notebook opened on Colab) it does nothing. A NaN or infinite
    number is refused: the prose would quote it as a result."""
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise TypeError(f"glue: name must be a key the page can quote (a string without spaces), got {_checks._got(name)}")
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        raise ValueError(f"glue: value of {name!r} must be a finite number, got {value}")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    if isinstance(value, np.generic):  # a NumPy scalar's text is "np.float64(…)": glue the Python number
        value = value.item()
    myst_glue(name, value, display=False)

