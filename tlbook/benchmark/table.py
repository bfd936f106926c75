"""Summarise benchmark cells: mean ± std over seeds, the share of the gap closed, cost."""
from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import _checks
from ..claims import SeedValues
from ..experiment import markdown_table, mean_std
from ._args import UnknownName, flag, text
from .provenance import _write_text
from .registry import FEW_LABELS, METHODS, ORACLE
from .run import Cell

__all__ = ["Row", "seed_accuracies", "seed_scores", "summarise", "gap_closed", "to_markdown", "write_tables"]

SOURCE_ONLY, TARGET_ONLY = "source-only", "target-only"
#: How the table marks a method that sees more of the target than unlabelled images.
MARKS = {ORACLE: "oracle: trains on target labels", FEW_LABELS: f"semi-supervised: {FEW_LABELS}"}


@dataclass
class Row:
    """One (pair, method) line of the table; accuracies are fractions in [0, 1]."""

    pair: str
    method: str
    seeds: int
    target_mean: float
    target_std: float
    gap_closed: float | None  # share of the source-only -> target-only gap closed (None without both, or no gap)
    oracle_mean: float  # best target-test accuracy over training: selected WITH target labels
    pad_mean: float
    seconds_per_step: float
    oracle: bool  # the method itself trains on target labels

    def __post_init__(self) -> None:
        where = "Row"
        text(self.pair, "pair", where)
        text(self.method, "method", where)
        _checks.integer(self.seeds, "seeds", where)
        for name in ("target_mean", "oracle_mean"):
            _checks.number(getattr(self, name), name, where, low=0.0, high=1.0)
        _checks.number(self.target_std, "target_std", where, low=0.0)
        if self.gap_closed is not None:
            _checks.number(self.gap_closed, "gap_closed", where)
        if not (isinstance(self.pad_mean, float) and math.isnan(self.pad_mean)):  # nan: not measured
            _checks.number(self.pad_mean, "pad_mean", where, low=0.0, high=2.0)
        _checks.number(self.seconds_per_step, "seconds_per_step", where, low=0.0)
        flag(self.oracle, "oracle", where)


def _cells(cells: Sequence[Cell], where: str) -> list[Cell]:
    """``cells`` must be a list of ``Cell`` with each (pair, method, seed) once: a cell read twice (two results
    files joined) would count twice in a mean."""
    if isinstance(cells, (str, bytes)) or not isinstance(cells, (list, tuple)):
        raise TypeError(f"{where}: cells must be a list of Cells (read_cells, stored_cells), got {_checks._got(cells)}")
    strange = next((c for c in cells if not isinstance(c, Cell)), None)
    if strange is not None:
        raise TypeError(f"{where}: cells must be a list of Cells, got {_checks._got(strange)} among them")
    seen: set[tuple] = set()
    for cell in cells:
        key = (cell.pair, cell.method, cell.seed)
        if key in seen:
            raise ValueError(f"{where}: cells hold method {cell.method!r} on pair {cell.pair!r} with seed {cell.seed} twice; "
                             "each (pair, method, seed) is one run")
        seen.add(key)
    return list(cells)


def gap_closed(method: float, source_only: float, target_only: float) -> float:
    r"""``(acc − acc_SO) / (acc_TO − acc_SO)``: 0 is no better than source only, 1 matches the oracle
    (accuracies are fractions in [0, 1])."""
    for name, value in (("method", method), ("source_only", source_only), ("target_only", target_only)):
        _checks.number(value, name, "gap_closed", low=0.0, high=1.0)
    if target_only <= source_only:
        raise ValueError(f"gap_closed: target_only ({target_only:.3f}) must beat source_only ({source_only:.3f}) "
                         "for a gap to exist")
    return (method - source_only) / (target_only - source_only)


def seed_accuracies(cells: Sequence[Cell], pair: str, method: str, eval_set: str = "target test") -> SeedValues:
    """The seeds of one (pair, method) in order, and their accuracies on ``eval_set`` ("target test" or
    "source test"): what a claim pairs."""
    where = "seed_accuracies"
    cells = _cells(cells, where)
    text(pair, "pair", where)
    text(method, "method", where)
    _checks.choice(eval_set, "eval_set", where, ("target test", "source test"))
    chosen = sorted((c for c in cells if (c.pair, c.method) == (pair, method)), key=lambda c: c.seed)
    if not chosen:
        there = sorted({(c.pair, c.method) for c in cells})
        raise UnknownName(f"{where}: no cells for method {method!r} on pair {pair!r}; the cells hold "
                          f"{', '.join(f'{m} on {p}' for p, m in there[:20]) or 'nothing'}")
    column = "target_test" if eval_set == "target test" else "source_test"
    return SeedValues([c.seed for c in chosen], np.array([getattr(c, column) for c in chosen]))


def seed_scores(cells: Sequence[Cell], pair: str, method: str, names: Sequence[str]) -> tuple[list[int], np.ndarray]:
    """The seeds of one (pair, method) in order, and what their cells measured (``Cell.stored_scores``) under
    ``names``: an array of seeds × names (e.g. a stored study's accuracy in each bin of ``CONTRAST_BINS``)."""
    where = "seed_scores"
    seeds, _ = seed_accuracies(cells, pair, method)
    if isinstance(names, str) or not isinstance(names, Sequence) or not names:
        raise TypeError(f"{where}: names must be a non-empty list of measured names, got {_checks._got(names)}")
    chosen = {c.seed: c.stored_scores() for c in cells if (c.pair, c.method) == (pair, method)}
    missing = sorted({n for scores in chosen.values() for n in names if n not in scores})
    if missing:
        measured = sorted({n for scores in chosen.values() for n in scores})
        raise UnknownName(f"{where}: the cells of {method!r} on {pair!r} did not measure {missing}; they hold "
                          f"{', '.join(measured) or 'nothing (no measures)'}")
    return list(seeds), np.array([[chosen[seed][n] for n in names] for seed in seeds])


def summarise(cells: Sequence[Cell]) -> list[Row]:
    """One row per (pair, method), in the order the cells first appear (none for no cells); the share of the
    gap closed needs source-only and target-only on the pair, and is measured on their seeds' means."""
    cells = _cells(cells, "summarise")
    groups: dict[tuple[str, str], list[Cell]] = {}
    for cell in cells:
        groups.setdefault((cell.pair, cell.method), []).append(cell)
    means = {key: float(np.mean([c.target_test for c in group])) for key, group in groups.items()}
    rows = []
    for (pair, method), group in groups.items():
        acc = np.array([c.target_test for c in group])
        so, to = means.get((pair, SOURCE_ONLY)), means.get((pair, TARGET_ONLY))
        has_gap = so is not None and to is not None and to > so and method != TARGET_ONLY
        closed = gap_closed(acc.mean(), so, to) if has_gap else None
        rows.append(Row(pair, method, len(group), float(acc.mean()), float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                        closed, float(np.mean([c.oracle_best_target for c in group])),
                        float(np.mean([c.pad for c in group])),
                        float(np.mean([c.seconds / c.steps for c in group])), method in METHODS and METHODS[method].oracle))
    return rows


def to_markdown(rows: Sequence[Row], cells: Sequence[Cell], oracle_column: bool = False) -> str:
    """A Markdown table; the oracle column (selection by target labels) only when asked, and labelled."""
    where = "to_markdown"
    if isinstance(rows, (str, bytes)) or not isinstance(rows, (list, tuple)) or not all(isinstance(r, Row) for r in rows):
        raise TypeError(f"{where}: rows must be a list of Rows (from summarise), got {_checks._got(rows)}")
    cells = _cells(cells, where)
    flag(oracle_column, "oracle_column", where)
    header = ["pair", "method", "target test (%)", "gap closed", "proxy A-distance", "ms / step"]
    header += ["best target test during training (%), ORACLE selection"] if oracle_column else []
    lines = []
    for row in rows:
        _, accs = seed_accuracies(cells, row.pair, row.method)
        sees = METHODS[row.method].sees if row.method in METHODS else None
        name = f"{row.method} ({MARKS[sees]})" if sees in MARKS else row.method
        closed = "—" if row.gap_closed is None else f"{100 * row.gap_closed:+.0f}%"
        pair = row.pair.replace("->", "\u2011>")  # a non-breaking hyphen: the pair's name stays on one line
        line = [pair, name, mean_std(accs), closed, f"{row.pad_mean:.2f}", f"{1000 * row.seconds_per_step:.0f}"]
        lines.append(line + ([f"{100 * row.oracle_mean:.1f}"] if oracle_column else []))
    return markdown_table(header, lines)


def write_tables(cells: Sequence[Cell], directory: str | Path, oracle_column: bool = False) -> tuple[Path, Path]:
    """``summary.csv`` and ``summary.md`` in ``directory``; returns their paths. Both are made before either is
    written, and each is written whole (to a temporary file, then renamed): a failure leaves the old ones."""
    where = "write_tables"
    rows = summarise(_cells(cells, where))
    flag(oracle_column, "oracle_column", where)
    if isinstance(directory, bytes) or not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"{where}: directory must be a folder (a str or pathlib.Path), got {_checks._got(directory)}")
    directory = Path(directory)
    blocking = next((p for p in (directory, *directory.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ValueError(f"{where}: directory must be a folder, got {directory}, where {blocking} is a file")
    csv_path, md_path = directory / "summary.csv", directory / "summary.md"
    handle = io.StringIO()
    writer = csv.writer(handle)  # csv's own line ends, as the file had
    columns = ["pair", "method", "seeds", "target_mean", "target_std", "gap_closed", "pad_mean", "seconds_per_step", "oracle"]
    writer.writerow(columns + (["oracle_best_target_mean"] if oracle_column else []))
    for r in rows:
        values = [r.pair, r.method, r.seeds, f"{r.target_mean:.4f}", f"{r.target_std:.4f}",
                  "" if r.gap_closed is None else f"{r.gap_closed:.4f}", f"{r.pad_mean:.4f}", f"{r.seconds_per_step:.5f}", r.oracle]
        writer.writerow(values + ([f"{r.oracle_mean:.4f}"] if oracle_column else []))
    markdown = to_markdown(rows, list(cells), oracle_column) + "\n"
    directory.mkdir(parents=True, exist_ok=True)
    _write_text(csv_path, handle.getvalue())
    _write_text(md_path, markdown)
    return csv_path, md_path
