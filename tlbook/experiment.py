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

    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row has {len(row)} cells and the header {len(header)}: {list(row)}")
    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])


@dataclass
class Runs:
    """The trained methods and histories of one configuration, one per seed."""

    name: str
    seeds: list[int]
    methods: list[Method] = field(repr=False)
    histories: list[History] = field(repr=False)

    def accuracies(self, eval_set: str = "target test") -> np.ndarray:
        """Final accuracy on ``eval_set`` of every seed's run."""
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
    methods, histories = [], []
    for seed in tqdm(list(seeds), desc=name or "seeds", disable=not progress_bar, leave=False):
        seed_everything(seed)
        method = make_method()
        histories.append(fit(method, source, target, seed=seed, progress_bar=False, **fit_options))
        methods.append(method)
    return Runs(name, list(seeds), methods, histories)


def comparison_table(runs: Sequence[Runs], baseline: Runs | None = None) -> str:
    """A Markdown table: target-test and source-test accuracy (mean ± std over seeds), and
    the gain over ``baseline`` computed seed by seed (each run's seeds must be among the
    baseline's). A run with fewer seeds than the others says how many it has."""
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
    Where myst-nb is not installed (e.g. a notebook opened on Colab) it does nothing."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    if isinstance(value, np.generic):  # a NumPy scalar's text is "np.float64(…)": glue the Python number
        value = value.item()
    myst_glue(name, value, display=False)

