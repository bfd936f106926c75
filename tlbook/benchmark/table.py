"""Summarise benchmark cells: mean ± std over seeds, the share of the gap closed, cost."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..claims import SeedValues
from ..experiment import markdown_table, mean_std
from .registry import FEW_LABELS, METHODS, ORACLE
from .run import Cell

__all__ = ["Row", "seed_accuracies", "summarise", "gap_closed", "to_markdown", "write_tables"]

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


def gap_closed(method: float, source_only: float, target_only: float) -> float:
    r"""``(acc − acc_SO) / (acc_TO − acc_SO)``: 0 is no better than source only, 1 matches the oracle."""
    if target_only <= source_only:
        raise ValueError(f"target-only ({target_only:.3f}) must beat source-only ({source_only:.3f}) for a gap to exist")
    return (method - source_only) / (target_only - source_only)


def seed_accuracies(cells: Sequence[Cell], pair: str, method: str) -> SeedValues:
    """The seeds of one (pair, method) in order, and their target-test accuracies: what a claim pairs."""
    chosen = sorted((c for c in cells if (c.pair, c.method) == (pair, method)), key=lambda c: c.seed)
    if not chosen:
        raise KeyError(f"no cells for method {method!r} on pair {pair!r}")
    return SeedValues([c.seed for c in chosen], np.array([c.target_test for c in chosen]))


def summarise(cells: Sequence[Cell]) -> list[Row]:
    """One row per (pair, method), in the order the cells first appear."""
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
    """``summary.csv`` and ``summary.md`` in ``directory``; returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rows = summarise(cells)
    csv_path, md_path = directory / "summary.csv", directory / "summary.md"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        columns = ["pair", "method", "seeds", "target_mean", "target_std", "gap_closed", "pad_mean", "seconds_per_step", "oracle"]
        writer.writerow(columns + (["oracle_best_target_mean"] if oracle_column else []))
        for r in rows:
            values = [r.pair, r.method, r.seeds, f"{r.target_mean:.4f}", f"{r.target_std:.4f}",
                      "" if r.gap_closed is None else f"{r.gap_closed:.4f}", f"{r.pad_mean:.4f}", f"{r.seconds_per_step:.5f}", r.oracle]
            writer.writerow(values + ([f"{r.oracle_mean:.4f}"] if oracle_column else []))
    md_path.write_text(to_markdown(rows, cells, oracle_column) + "\n")
    return csv_path, md_path
