"""Run (method, pair, seed) cells, append each finished one to a CSV, skip those already there."""
from __future__ import annotations

import csv
import inspect
import io
import math
import os
import re
import time
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable, Sequence

import torch
from filelock import FileLock
from tqdm import tqdm

from .. import _checks, distributed
from .._utils import seed_everything
from ..data import PAIRS, Domain, load_pair
from ..data.office import OFFICE_DOMAINS
from ..methods import Method
from ..metrics import extract, proxy_a_distance
from ..train import History, fit
from ._args import flag, path as _path, seed as _seed, text
from .measures import MEASURES, measure
from .registry import METHODS, TRAINING, check_inputs, check_names, check_seeds, make_method

__all__ = ["Cell", "RECIPES", "append_cell", "recipe", "read_cells", "run_benchmark", "run_cell", "stored_cells", "make_cell",
           "append_cells", "cell_settings", "results_lock"]  # train_seeded: make_cell's and a study's training

#: steps and batch size per pair (and the optimiser, where it is not ``TRAINING``'s).
RECIPES: dict[str, dict] = {
    "synth->handwritten": dict(steps=600, batch_size=64),
    "handwritten->handwritten-m": dict(steps=300, batch_size=64),
    "synth->synth-m": dict(steps=600, batch_size=64),
    "moons->moons-rotated": dict(steps=600, batch_size=64),
    # The standard digit pairs (downloaded when online): GPU budgets, at 28 × 28 (32 × 32 with SVHN).
    "mnist->mnist-m": dict(steps=10_000, batch_size=128),
    "mnist->usps": dict(steps=5_000, batch_size=128),
    "usps->mnist": dict(steps=5_000, batch_size=128),
    "svhn->mnist": dict(steps=10_000, batch_size=128),
    "syndigits->svhn": dict(steps=10_000, batch_size=128),
    # Office-31 and Office-Home: fine-tuning an ImageNet ResNet-50 on a GPU, SGD with momentum at 10⁻³ for every
    # layer (the papers' usual 10⁻³ for the pre-trained layers; not tuned or run here: no GPU or data).
    **{pair: dict(steps=5_000, batch_size=32, optimizer="sgd", lr=1e-3) for pair in PAIRS if PAIRS[pair][0] in OFFICE_DOMAINS},
}


_CURVE = re.compile(r"(\d+:\d+(\.\d+)?( \d+:\d+(\.\d+)?)*)?")
_SCORES = re.compile(r"([A-Za-z][A-Za-z ]*=-?\d+(\.\d+)?(e[-+]?\d+)?(;[A-Za-z][A-Za-z ]*=-?\d+(\.\d+)?(e[-+]?\d+)?)*)?")


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
    pad: float  # proxy A-distance between source and target test features after training (nan: not measured)
    seconds: float
    device: str
    batch_size: int = 64  # files written before this column existed used each pair's recipe, 64 for every pair
    target_curve: str = ""  # "step:accuracy ..." of the ten target-test evaluations, to draw (never to select); "" in older files
    scores: str = ""  # "name=value;..." of what a study measures on the last step's model (``measures.py``; "": nothing)

    def __post_init__(self) -> None:  # a cell is a row of a results file: a wrong one would be stored and reported
        where = "Cell"
        for name in ("method", "pair", "device"):
            text(getattr(self, name), name, where)
        _seed(self.seed, "seed", where)
        for name in ("steps", "batch_size"):
            _checks.integer(getattr(self, name), name, where)
        for name in ("target_test", "source_test", "oracle_best_target"):
            _checks.number(getattr(self, name), name, where, low=0.0, high=1.0)
        if not (isinstance(self.pad, float) and math.isnan(self.pad)):  # nan: not measured
            _checks.number(self.pad, "pad", where, low=0.0, high=2.0)
        _checks.number(self.seconds, "seconds", where, low=0.0)
        if not isinstance(self.target_curve, str) or not _CURVE.fullmatch(self.target_curve):
            raise ValueError(f"{where}: target_curve must be \"step:accuracy\" pairs separated by spaces (or \"\"), "
                             f"got {self.target_curve!r}"[:200])
        if not isinstance(self.scores, str) or not _SCORES.fullmatch(self.scores):
            raise ValueError(f"{where}: scores must be \"name=value\" pairs separated by ';' (or \"\"), got {self.scores!r}"[:200])

    def curve(self) -> tuple[list[int], list[float]]:
        """The steps and target-test accuracies of ``target_curve`` (two empty lists where it was not stored)."""
        points = [point.split(":") for point in self.target_curve.split()]
        return [int(step) for step, _ in points], [float(value) for _, value in points]

    def stored_scores(self) -> dict[str, float]:
        """``scores`` by name (an empty dict where they were not measured)."""
        pairs = [item.split("=") for item in self.scores.split(";") if item]
        return {name: float(value) for name, value in pairs}


def _recipe(pair: str, steps: int | None, batch_size: int | None, where: str = "cell_settings") -> dict:
    """The pair's recipe with the requested overrides; a bad override is an error, not the default."""
    check_names([pair], PAIRS, "pair", where)
    recipe = {**RECIPES.get(pair, dict(steps=600, batch_size=64))}
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{where}: {name} must be a positive integer, got {value!r}")
            recipe[name] = value
    return recipe


def cell_settings(pair: str, steps: int | None = None, batch_size: int | None = None) -> dict:
    """``fit``'s keyword arguments for one benchmark cell: the pair's recipe (its steps and batch size, with
    the requested overrides), its optimiser, and ten evaluations."""
    chosen = _recipe(pair, steps, batch_size)
    training = {name: chosen.get(name, default) for name, default in TRAINING.items()}
    return {**training, "steps": chosen["steps"], "batch_size": chosen["batch_size"],
            "eval_every": max(1, chosen["steps"] // 10)}


def recipe(pair: str, **extra) -> dict:
    """``fit``'s keyword arguments for the benchmark's recipe on ``pair`` (its steps and batch size, Adam at
    10⁻³), with ``extra`` ones added: chapter 2's notebooks train with exactly what the benchmark does."""
    check_names([pair], RECIPES, "pair", "recipe")
    _fit_options(extra, "extra", "recipe")
    return {**TRAINING, **RECIPES[pair], **extra}


def _fit_options(options: dict, name: str, where: str) -> dict:
    """``options`` must be keyword arguments of ``fit``: a typo would otherwise fail at the first training."""
    if not isinstance(options, dict):
        raise TypeError(f"{where}: {name} must be a dict of fit's keyword arguments, got {_checks._got(options)}")
    unknown = set(options) - (set(inspect.signature(fit).parameters) - {"method", "source", "target"})
    if unknown:
        raise TypeError(f"{where}: {name} must hold fit's keyword arguments; fit takes no {', '.join(sorted(map(str, unknown)))}")
    return options


def read_cells(path: str | Path) -> list[Cell]:
    """The cells stored in a results CSV (empty if the file does not exist). The file is an append
    log: a last line cut short by an interruption is left out with a warning. A file of other columns (another
    tlbook version, an edit) or a malformed row is an error naming the file, the line and the column."""
    if isinstance(path, (str, os.PathLike)) and Path(path).is_dir():
        raise ValueError(f"read_cells: path must be a results file, got the folder {path} (a results file is e.g. "
                         f"{Path(path) / 'cells.csv'})")
    path = _path(path, "path", "read_cells")
    if not path.exists():
        return []
    content = path.read_text()
    if content and not content.endswith("\n"):
        warnings.warn(f"{path}: the last line was cut short (an interrupted write) and is left out; "
                      "its cell will be trained again", stacklevel=2)
        content = content[: content.rfind("\n") + 1]
    return _parse(csv.DictReader(content.splitlines()), str(path))


def stored_cells(study: str | None = None) -> list[Cell]:
    """The cells behind the book's benchmark chapter, shipped with the package
    (``tlbook/benchmark/results/cells.csv``; how they were made is in ``results/README.md``), or
    those of a stored ``study`` (``results/<study>.csv``, see ``tlbook.benchmark.STUDIES``)."""
    from importlib.resources import files

    from .studies import STUDIES  # studies builds on this module

    if study is not None:
        check_names([study], STUDIES, "study", "stored_cells")
    name = "cells" if study is None else study
    path = files("tlbook.benchmark") / "results" / f"{name}.csv"
    if not path.is_file():
        how = "python -m tlbook.benchmark" + ("" if study is None else f" --study {study}")
        raise FileNotFoundError(f"the stored results {name!r} are missing ({path}); run {how} to make them")
    with path.open(newline="") as handle:
        return _parse(csv.DictReader(handle), str(path))


def _columns(header: list[str], where: str, *, exact: bool = False) -> None:
    """A results file's header: the columns of ``Cell`` (the three added last may be missing from older files
    when reading; ``exact``: all of them, in order, to append)."""
    names = [f.name for f in fields(Cell)]
    optional = {"batch_size", "target_curve", "scores"}
    twice = sorted({c for c in header if header.count(c) > 1})
    extra = [c for c in header if c not in names]
    missing = [c for c in names if c not in header and (exact or c not in optional)]
    if twice or extra or missing or (exact and header != names):
        problems = ([f"the column(s) {twice} twice"] if twice else []) + ([f"the column(s) {extra}, unknown"] if extra else []) \
            + ([f"no column(s) {missing}"] if missing else []) + ([] if twice or extra or missing else ["its columns in another order"])
        raise ValueError(f"{where} has {' and '.join(problems)}: not the columns of this tlbook version's results "
                         f"({', '.join(names)}); write the results to a new file")


def _parse(rows: csv.DictReader, where: str) -> list[Cell]:
    types = {f.name: f.type for f in fields(Cell)}
    cast = {"int": int, "float": float, "str": str}
    if rows.fieldnames is None:  # an empty file
        return []
    _columns(list(rows.fieldnames), where)
    cells = []
    for row in rows:
        line = rows.line_num
        if None in row or None in row.values():
            given = sum(v is not None for k, v in row.items() if k is not None) + len(row.get(None) or [])
            raise ValueError(f"{where}, line {line}: the row has {given} fields instead of {len(rows.fieldnames)}")
        values = {}
        for column, value in row.items():
            try:
                values[column] = cast[types[column]](value)
            except ValueError:
                raise ValueError(f"{where}, line {line}: column {column} must be {'an' if types[column] == 'int' else 'a'} "
                                 f"{types[column]}, got {value!r}") from None
        try:
            cells.append(Cell(**values))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}, line {line}: {str(error).removeprefix('Cell: ')}") from None
    return cells


def results_lock(path: Path) -> FileLock:
    """The lock every writer of the results file ``path`` holds (``path`` + ``.lock``; the ``filelock``
    package, so on Windows too): several processes append to one file, each reads, repairs and writes it alone."""
    return FileLock(str(_path(path, "path", "results_lock")) + ".lock")


def append_cell(path: Path, cell: Cell) -> None:
    """Append one cell to the CSV ``path`` (header first in a new file), holding the file's lock. A file of
    other columns is refused untouched; only a last line cut short by an interruption is dropped first."""
    path = _path(path, "path", "append_cell", suffix=".csv")
    if not isinstance(cell, Cell):
        raise TypeError(f"append_cell: cell must be a Cell, got {_checks._got(cell)}")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise NotADirectoryError(f"append_cell: {path} cannot be written: {blocking} is a file, not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [f.name for f in fields(Cell)]
    with results_lock(path), path.open("a+b") as handle:
        handle.seek(0)
        content = handle.read()
        whole = content[: content.rfind(b"\n") + 1]  # what an interruption did not cut short (read_cells reads that)
        header = whole.split(b"\n", 1)[0].decode().strip() if whole else None
        if header is not None:
            _columns(next(csv.reader([header])), str(path), exact=True)
        if whole != content:  # drop the line an interruption cut short (read_cells left it out)
            handle.truncate(len(whole))
        line = io.StringIO()
        writer = csv.DictWriter(line, fieldnames=names, lineterminator="\n")
        if header is None:
            writer.writeheader()
        writer.writerow(asdict(cell))
        handle.write(line.getvalue().encode())  # opened for appending: lands at the end
        handle.flush()


def append_cells(todo: Sequence[tuple], make: Callable[..., Cell], results: Path, desc: str,
                progress_bar: bool = True) -> None:
    """``make(*key)`` for every key of ``todo``, each cell appended to ``results`` as it finishes.

    Under ``torchrun --nproc-per-node N`` the N processes share the work: process r trains keys
    r, r + N, r + 2N, ... (each cell alone on its own device: cells are independent, so this scales
    without communication), all append to the one file under its lock, and every process returns
    once all cells are in."""
    where = "append_cells"
    if isinstance(todo, (str, bytes)) or not isinstance(todo, (list, tuple)) or not all(isinstance(k, tuple) for k in todo):
        raise TypeError(f"{where}: todo must be a list of tuples (the arguments of make for each cell), got {_checks._got(todo)}")
    if not callable(make):
        raise TypeError(f"{where}: make must be a function that trains one cell, make(*key) -> Cell, got {_checks._got(make)}")
    results = _path(results, "results", where, suffix=".csv")
    if not isinstance(desc, str):
        raise TypeError(f"{where}: desc must be a string (the progress bar's label), got {_checks._got(desc)}")
    flag(progress_bar, "progress_bar", where)
    distributed.setup("cpu")  # under torchrun: a gloo group, used only to wait for each other
    rank, size = distributed.rank(), distributed.world_size()
    for key in tqdm(list(todo)[rank::size], desc=desc, disable=not progress_bar or rank != 0):
        append_cell(results, make(*key))
    distributed.barrier()


def run_cell(method_name: str, pair: str, seed: int, steps: int | None = None, batch_size: int | None = None,
             device: torch.device | str = "cpu", amp: bool = False, store: bool = True) -> Cell:
    """Train one method on one pair with one seed and measure it. A method built from its recipe alone
    comes through the stored runs (``stored_run``): the chapters' pages and the benchmark share one run
    of one configuration; ``store=False`` (a page that trains a cell again to check it) or ``amp`` trains here."""
    where = "run_cell"
    check_names([method_name], METHODS, "method", where)
    recipe = _recipe(pair, steps, batch_size, where)
    _seed(seed, "seed", where)
    _checks.device(device, "device", where)
    flag(amp, "amp", where)
    flag(store, "store", where)
    training = {name: recipe.get(name, default) for name, default in TRAINING.items()}
    if METHODS[method_name].prepare is None and not amp:
        from .stored_runs import stored_run  # stored_runs builds on this module

        check_inputs(method_name, load_pair(pair)[0])
        with distributed.alone():  # under torchrun each process trains its own cells
            method, history = stored_run(method_name, pair, seed, settings=cell_settings(pair, steps, batch_size),
                                         device=device, store=store)
        return _measure(method_name, method, history, pair, seed, recipe["steps"], recipe["batch_size"],
                        history.seconds, device)  # the training's own time, whether trained now or read back
    build = lambda source, target: make_method(method_name, source, target, seed, recipe["steps"])  # noqa: E731
    return make_cell(method_name, build, pair, seed, recipe["steps"], recipe["batch_size"], device, amp, training=training)


def make_cell(name: str, build: Callable[[Domain, Domain], Method], pair: str, seed: int, steps: int, batch_size: int,
               device: torch.device | str = "cpu", amp: bool = False, measure_pad: bool = True,
               training: dict | None = None, measures: Sequence[str] = ()) -> Cell:
    """Seed, ``build(source, target)``, train with the benchmark's optimiser, and measure: how a study's cell
    and a cell of a method that trains before it adapts (SDT) are made; ``run_cell`` makes the others
    through the stored runs. The time includes building (SDT pre-trains there).
    ``training``: the optimiser settings (default ``TRAINING``); ``measures``: what to measure on the trained model
    and store in the cell's ``scores``, by name (``MEASURES``: its label-free scores, its accuracy by stroke contrast)."""
    where = "make_cell"
    text(name, "name", where)
    if not callable(build):
        raise TypeError(f"{where}: build must be a function (source, target) -> Method, got {_checks._got(build)}")
    check_names([pair], PAIRS, "pair", where)
    _seed(seed, "seed", where)
    for argument, value in (("steps", steps), ("batch_size", batch_size)):
        _checks.integer(value, argument, where)
    _checks.device(device, "device", where)
    flag(amp, "amp", where)
    flag(measure_pad, "measure_pad", where)
    measures = _measures(measures, where)
    if training is not None:
        _fit_options(training, "training", where)
        taken = set(training) & {"steps", "batch_size", "seed", "progress_bar", "eval_every", "amp"}
        if taken:
            raise ValueError(f"{where}: training must hold optimiser settings only; {sorted(taken)} are make_cell's own arguments")
    source, target = load_pair(pair, device=device)
    start = time.perf_counter()
    method, history = train_seeded(build, source, target, seed, steps, batch_size, amp, training)
    return _measure(name, method, history, pair, seed, steps, batch_size, time.perf_counter() - start, device,
                    measure_pad, measures)


def train_seeded(build: Callable[[Domain, Domain], Method], source: Domain, target: Domain, seed: int, steps: int,
                 batch_size: int, amp: bool = False, training: dict | None = None) -> tuple[Method, History]:
    """A cell's training: seed, ``build(source, target)``, ``fit`` with the benchmark's optimiser (or ``training``'s)
    and ten evaluations. A study's continued configuration trains its start through here too, so that it starts
    from the very network the study stores for the start."""
    seed_everything(seed)
    with distributed.alone():  # under torchrun each process trains its own cells, pre-training included
        method = build(source, target)
        history = fit(method, source, target, steps=steps, batch_size=batch_size, seed=seed, progress_bar=False,
                      eval_every=max(1, steps // 10), amp=amp, **(training or TRAINING))
    return method, history


def _measures(measures: object, where: str) -> tuple[str, ...]:
    """Names of ``MEASURES``, in a list or tuple (none: an empty one)."""
    if isinstance(measures, str) or not isinstance(measures, (list, tuple)):
        raise TypeError(f"{where}: measures must be a list or tuple of names ({', '.join(MEASURES)}), "
                        f"got {_checks._got(measures)}")
    if measures:
        check_names(list(measures), MEASURES, "measure", where)
    return tuple(measures)


def _measure(name: str, method: Method, history, pair: str, seed: int, steps: int, batch_size: int, seconds: float,
             device: torch.device | str, measure_pad: bool = True, measures: tuple[str, ...] = ()) -> Cell:
    """A trained method's cell: last-step accuracies, the oracle's best, the proxy A-distance of its features,
    and what ``measures`` names (``MEASURES``)."""
    source, target = load_pair(pair, device=device)
    scores = measure(measures, method, source, target, seed)
    pad = float("nan")
    if measure_pad:
        features = [extract(method.classifier.features, method, d.x_test) for d in (source, target)]
        pad = proxy_a_distance(*features, seed=seed)
    curve = " ".join(f"{step}:{value:.4f}" for step, value in zip(history.eval_steps, history.evals["target test"]))
    return Cell(name, pair, seed, steps, history.final("target test"), history.final("source test"),
                max(history.evals["target test"]), pad, seconds, str(source.device), batch_size, curve, scores)


def run_benchmark(methods: Sequence[str], pairs: Sequence[str], seeds: Sequence[int], results: str | Path, *,
                  steps: int | None = None, batch_size: int | None = None, device: torch.device | str = "cpu",
                  amp: bool = False, progress_bar: bool = True) -> list[Cell]:
    """Every (method, pair, seed) cell, appended to the CSV ``results`` as it finishes.

    Cells already in ``results`` with the same steps and batch size are not run again, so an
    interrupted benchmark resumes where it stopped; cells of other settings are trained anew. Returns
    the cells of this request (stored and new). Under ``torchrun`` the processes share the cells
    (``append_cells``).
    """
    where = "run_benchmark"
    check_names(methods, METHODS, "method", where)
    check_names(pairs, PAIRS, "pair", where)
    seeds = check_seeds(seeds, where)
    recipes = {pair: _recipe(pair, steps, batch_size, where) for pair in pairs}  # bad steps fail here, before training
    _checks.device(device, "device", where)
    flag(amp, "amp", where)
    flag(progress_bar, "progress_bar", where)
    for pair in pairs:  # so does a method that cannot run on a pair's inputs
        for method in methods:
            check_inputs(method, load_pair(pair)[0])
    if isinstance(results, (str, os.PathLike)) and Path(results).is_dir():
        raise ValueError(f"run_benchmark: results must be a results file, got the folder {results} (e.g. "
                         f"{Path(results) / 'cells.csv'})")
    path = _path(results, "results", where, suffix=".csv")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise NotADirectoryError(f"{blocking} is not a folder for the results file {path.name}")
    key = lambda m, p, s: (m, p, s, recipes[p]["steps"], recipes[p]["batch_size"])  # noqa: E731
    done = {(c.method, c.pair, c.seed, c.steps, c.batch_size): c for c in read_cells(path)}
    wanted = [key(m, p, s) for p in pairs for m in methods for s in seeds]
    todo = [k for k in wanted if k not in done]
    append_cells(todo, lambda method, pair, seed, steps_, batch: run_cell(method, pair, seed, steps_, batch, device, amp),
                path, "benchmark", progress_bar)
    done.update({(c.method, c.pair, c.seed, c.steps, c.batch_size): c for c in read_cells(path)})
    return [done[k] for k in wanted]
