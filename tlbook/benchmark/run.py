"""Run (method, pair, seed) cells, append each finished one to a CSV, skip those already there."""
from __future__ import annotations

import csv
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Sequence

import torch
from tqdm import tqdm

from .._utils import seed_everything
from ..data import PAIRS, load_pair
from ..metrics import extract, proxy_a_distance
from ..train import fit
from .registry import METHODS, check_names, make_method

__all__ = ["Cell", "RECIPES", "read_cells", "run_benchmark", "run_cell", "stored_cells"]

#: The optimiser every benchmark run uses (chapter 2's recipe; the weights of the last step are reported).
TRAINING = dict(optimizer="adam", lr=1e-3)

#: steps and batch size per pair.
RECIPES: dict[str, dict] = {
    "synth->handwritten": dict(steps=600, batch_size=64),
    "handwritten->handwritten-m": dict(steps=300, batch_size=64),
    "synth->synth-m": dict(steps=600, batch_size=64),
    "moons->moons-rotated": dict(steps=600, batch_size=64),
}


@dataclass
class Cell:
    """One trained (method, pair, seed): the numbers every table is made from."""

    method: str
    pair: str
    seed: int
    steps: int
    target_test: float  # accuracy of the last step's weights: no selection
    source_test: float
    oracle_best_target: float  # best target-test accuracy over the evaluations: an ORACLE, uses target labels
    pad: float  # proxy A-distance between source and target test features after training
    seconds: float
    device: str


def read_cells(path: str | Path) -> list[Cell]:
    """The cells stored in a results CSV (empty if the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return _parse(csv.DictReader(handle))


def stored_cells() -> list[Cell]:
    """The cells behind the book's benchmark chapter, shipped with the package
    (``tlbook/benchmark/results/cells.csv``; how they were made is in ``results/README.md``)."""
    from importlib.resources import files

    path = files("tlbook.benchmark") / "results" / "cells.csv"
    if not path.is_file():
        raise FileNotFoundError(f"the stored benchmark is missing ({path}); run python -m tlbook.benchmark to make it")
    with path.open(newline="") as handle:
        return _parse(csv.DictReader(handle))


def _parse(rows) -> list[Cell]:
    types = {f.name: f.type for f in fields(Cell)}
    cast = {"int": int, "float": float, "str": str}
    return [Cell(**{k: cast[types[k]](v) for k, v in row.items()}) for row in rows]


def _append(path: Path, cell: Cell) -> None:
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(Cell)])
        if new:
            writer.writeheader()
        writer.writerow(asdict(cell))
        handle.flush()


def run_cell(method_name: str, pair: str, seed: int, steps: int | None = None, batch_size: int | None = None,
             device: torch.device | str = "cpu", amp: bool = False) -> Cell:
    """Train one method on one pair with one seed and measure it."""
    recipe = {**RECIPES.get(pair, dict(steps=600, batch_size=64))}
    recipe["steps"] = steps or recipe["steps"]
    recipe["batch_size"] = batch_size or recipe["batch_size"]
    source, target = load_pair(pair, device=device)
    seed_everything(seed)
    method = make_method(method_name, source.family, source.num_classes)
    start = time.perf_counter()
    history = fit(method, source, target, seed=seed, progress_bar=False, eval_every=max(1, recipe["steps"] // 10),
                  amp=amp, **TRAINING, **recipe)
    seconds = time.perf_counter() - start
    features = [extract(method.classifier.features, method, d.x_test) for d in (source, target)]
    return Cell(method_name, pair, seed, recipe["steps"], history.final("target test"), history.final("source test"),
                max(history.evals["target test"]), proxy_a_distance(*features, seed=seed), seconds, str(source.device))


def run_benchmark(methods: Sequence[str], pairs: Sequence[str], seeds: Sequence[int], results: str | Path, *,
                  steps: int | None = None, batch_size: int | None = None, device: torch.device | str = "cpu",
                  amp: bool = False, progress_bar: bool = True) -> list[Cell]:
    """Every (method, pair, seed) cell, appended to the CSV ``results`` as it finishes.

    Cells already in ``results`` are not run again, so an interrupted benchmark resumes
    where it stopped. Returns the cells of this request (stored and new).
    """
    check_names(list(methods), METHODS, "method")
    check_names(list(pairs), PAIRS, "pair")
    if not seeds:
        raise ValueError("no seeds given")
    path = Path(results)
    done = {(c.method, c.pair, c.seed): c for c in read_cells(path)}
    wanted = [(m, p, s) for p in pairs for m in methods for s in seeds]
    todo = [key for key in wanted if key not in done]
    for method, pair, seed in tqdm(todo, desc="benchmark", disable=not progress_bar):
        cell = run_cell(method, pair, seed, steps, batch_size, device, amp)
        _append(path, cell)
        done[method, pair, seed] = cell
    return [done[key] for key in wanted]
