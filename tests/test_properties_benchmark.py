"""Property tests of the benchmark (``tlbook.benchmark``) and of the distributed helpers outside ``torchrun``.

- Every public function refuses a broken argument (an unknown method, pair, study or configuration; seeds that
  are not distinct non-negative integers; counts that are not positive; a device this machine lacks; a path that
  is not a results file) with a ``ValueError`` or ``TypeError`` that names it, before anything trains.
- A results file with a column added or missing, or a malformed row, is an error naming the file and the column;
  reading never changes the file, and no writer destroys a file it cannot read.
- The command line refuses a bad argument in one line, exit status 2, nothing trained.
- The tables' numbers are the means, spreads and shares they claim to be.

What trains does so once, at the smallest size: a two-step recipe on the moons and a two-configuration study
("tiny"), patched in for this module only; every file goes to a temporary folder.
"""
from __future__ import annotations

import atexit
import csv
import dataclasses
import io
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tlbook
from tlbook import distributed
from tlbook.benchmark import profile, provenance, registry, run, stored_runs, studies, table, verify
from tlbook.benchmark.__main__ import main
from tlbook.data import load_pair
from tlbook.methods import DANN, SourceOnly
from tlbook.nn import toy_classifier

from properties import BREAKS, Sizes, Spec, property_tests

PAIR = "moons->moons-rotated"
PACKAGE = Path(tlbook.__file__).parent
TMP = Path(tempfile.mkdtemp(prefix="tlbook-benchmark-properties-"))
atexit.register(shutil.rmtree, TMP, ignore_errors=True)
(TMP / "empty").mkdir()
(TMP / "prov").mkdir()
A_FILE = TMP / "notes.txt"
A_FILE.write_text("mine")
SOURCE, TARGET = load_pair(PAIR)
TINY = studies.Study(PAIR, 2, {
    "plain": studies.Config(lambda source: SourceOnly(toy_classifier())),
    "dann": studies.Config(lambda source: DANN(toy_classifier(), hidden=(8,)), batch_size=16, baseline="plain"),
})


@pytest.fixture(autouse=True, scope="module")
def tiny_world():
    """A two-step recipe on the moons and the tiny study, for this module only."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(run.RECIPES, PAIR, dict(steps=2, batch_size=8))
        patch.setitem(studies.STUDIES, "tiny", TINY)
        yield


def _cell(method: str, seed: int, accuracy: float, pair: str = "p", steps: int = 10, batch_size: int = 64) -> run.Cell:
    return run.Cell(method, pair, seed, steps, accuracy, 0.9, accuracy, 1.0, 1.0, "cpu", batch_size, f"{steps}:{accuracy:.4f}")


def _cells(s: Sizes, methods=("source-only", "target-only", "dan"), pair: str = "p") -> list[run.Cell]:
    """One cell per method and seed (``s.classes`` seeds, from ``s.seed``), accuracies drawn in [0, 1]."""
    accuracy = s.rand(len(methods), s.classes).double()
    return [_cell(m, s.seed + j, round(float(accuracy[i, j]), 4), pair) for i, m in enumerate(methods) for j in range(s.classes)]


def _study_cells(s: Sizes) -> list[run.Cell]:
    return _cells(s, ("plain", "dann"), PAIR)


def _results(s: Sizes, cells: list[run.Cell], folder: str) -> Path:
    """A results file holding ``cells`` (written once per generated case)."""
    path = TMP / folder / f"{s.seed}-{s.classes}.csv"
    if not path.exists():
        for cell in cells:
            run.append_cell(path, cell)
    return path


# A fake package whose one stored results file is the tiny study's: what verify and restamp may write to.
FAKE = TMP / "tlbook"
(FAKE / "benchmark" / "results").mkdir(parents=True)
(FAKE / "__init__.py").write_text("")
FAKE_CELL = _cell("plain", 0, 0.5, PAIR, steps=2)
run.append_cell(FAKE / "benchmark" / "results" / "tiny.csv", FAKE_CELL)
LINE = "ok   tiny.csv plain moons->moons-rotated seed 0: stored 50.00 %, re-trained 50.00 %"
DAMAGED = TMP / "damaged" / "tlbook"  # another, whose provenance records get damaged
shutil.copytree(FAKE, DAMAGED)

_NO_DEVICE = {"nonsense": lambda v, call, s: "nonsense", "an absent GPU": lambda v, call, s: "cuda:99",
              "a number": lambda v, call, s: 3, "cuda on a machine without one": lambda v, call, s: "cuda"}
if torch.cuda.is_available():
    del _NO_DEVICE["cuda on a machine without one"]
_PATH = {"a number": lambda v, call, s: 3, "bytes": lambda v, call, s: b"cells.csv", "a folder": lambda v, call, s: TMP}
_TEXT = {"empty": lambda v, call, s: "", "None": lambda v, call, s: None, "two lines": lambda v, call, s: "a\nb",
         "a number": lambda v, call, s: 3}
_ACCURACY = {"nan": lambda v, call, s: math.nan, "above 1": lambda v, call, s: 1.5, "negative": lambda v, call, s: -0.1,
             "a string": lambda v, call, s: "0.5"}
_CELL = {"a dict": lambda v, call, s: dataclasses.asdict(v), "None": lambda v, call, s: None}
_FUNCTION = {"not callable": lambda v, call, s: 3, "a string": lambda v, call, s: "make"}
_CELLS = {"a string": lambda v, call, s: "cells.csv", "a dict among them": lambda v, call, s: v + [dataclasses.asdict(v[0])],
          "a cell twice": lambda v, call, s: v + v[:1], "no cells": lambda v, call, s: []}

# Where a function hands an argument to a shared check (``_args``, ``_checks``, ``check_names``), two or three ways of
# breaking it prove that it is checked; each shared check meets every way once (the *_all kinds).
KINDS = {
    **BREAKS,
    "count": {"zero": lambda v, call, s: 0},
    "seed_all": {**BREAKS["seed"], "negative": lambda v, call, s: -1, "too large": lambda v, call, s: 2**32},
    "seed_value": {"negative": lambda v, call, s: -1, "a string": lambda v, call, s: "0"},
    "seeds_all": {"empty": lambda v, call, s: [], "repeated": lambda v, call, s: v + v[:1], "negative": lambda v, call, s: [-1],
                  "a float": lambda v, call, s: [0.5], "a bool": lambda v, call, s: [True], "a string": lambda v, call, s: "012",
                  "a set": lambda v, call, s: set(v), "too large": lambda v, call, s: [2**32]},
    "seeds": {"empty": lambda v, call, s: [], "repeated": lambda v, call, s: v + v[:1], "negative": lambda v, call, s: [-1]},
    "names_all": {"empty": lambda v, call, s: [], "unknown": lambda v, call, s: v + ["no-such-name"],
                  "repeated": lambda v, call, s: v + v[:1], "a string": lambda v, call, s: v[0],
                  "a number": lambda v, call, s: [3]},
    "names": {"unknown": lambda v, call, s: v + ["no-such-name"], "repeated": lambda v, call, s: v + v[:1],
              "a string": lambda v, call, s: v[0]},
    "nonnegative": {"negative": lambda v, call, s: -1.0, "nan": lambda v, call, s: math.nan},
    "known": {"a string": lambda v, call, s: "dann dan", "None": lambda v, call, s: None},
    "kind": {"empty": lambda v, call, s: "", "None": lambda v, call, s: None, "a number": lambda v, call, s: 3},
    "flag_all": {"a string": lambda v, call, s: "no", "an int": lambda v, call, s: 1, "None": lambda v, call, s: None},
    "flag": {"a string": lambda v, call, s: "no"},
    "device_all": _NO_DEVICE,
    "device": {way: _NO_DEVICE[way] for way in ("nonsense", "an absent GPU")},
    "domain": {"a string": lambda v, call, s: "moons", "a tensor": lambda v, call, s: torch.zeros(3, 2)},
    "path": _PATH,
    "csv_path_all": {**_PATH, "not a .csv": lambda v, call, s: TMP / "cells.txt"},
    "csv_path": {"a number": lambda v, call, s: 3, "not a .csv": lambda v, call, s: TMP / "cells.txt"},
    "root_all": {"missing": lambda v, call, s: TMP / "missing", "a file": lambda v, call, s: A_FILE,
                 "a number": lambda v, call, s: 3, "not the package": lambda v, call, s: TMP / "empty"},
    "root": {"missing": lambda v, call, s: TMP / "missing", "not the package": lambda v, call, s: TMP / "empty"},
    "directory": {"a number": lambda v, call, s: 3, "a file": lambda v, call, s: A_FILE,
                  "under a file": lambda v, call, s: A_FILE / "x"},
    "text_all": _TEXT,
    "text": {way: _TEXT[way] for way in ("None", "two lines")},
    "lookup": {"unknown": lambda v, call, s: "no-such-name", "None": lambda v, call, s: None},
    "accuracy_all": _ACCURACY,
    "accuracy": {way: _ACCURACY[way] for way in ("nan", "above 1")},
    "top_accuracy": {**_ACCURACY, "no gap": lambda v, call, s: call["source_only"]},
    "pad": {"inf": lambda v, call, s: math.inf, "above 2": lambda v, call, s: 2.5, "a string": lambda v, call, s: "1"},
    "curve": {"garbage": lambda v, call, s: "ten steps", "a number": lambda v, call, s: 3,
              "no accuracy": lambda v, call, s: "10:"},
    "scores": {"garbage": lambda v, call, s: "entropy high", "a number": lambda v, call, s: 3,
               "no value": lambda v, call, s: "entropy=", "nan": lambda v, call, s: "entropy=nan"},
    "cell": _CELL,
    "same_cell": {**_CELL, "another seed": lambda v, call, s: dataclasses.replace(v, seed=v.seed + 1),
                  "another method": lambda v, call, s: dataclasses.replace(v, method="dan")},
    "cells_all": _CELLS,
    "cells": {way: _CELLS[way] for way in ("a dict among them", "a cell twice")},
    "rows": {"a string": lambda v, call, s: "rows", "a dict among them": lambda v, call, s: v + [{}]},
    "function": _FUNCTION,
    "function_or_none": _FUNCTION,
    "method_class": {"a string": lambda v, call, s: "DANN", "another class": lambda v, call, s: dict,
                     "None": lambda v, call, s: None},
    "options": {"a list": lambda v, call, s: list(v.items()), "an unknown option": lambda v, call, s: {"no_such_option": 1},
                "a key that is not a name": lambda v, call, s: {1: 0.5}},
    "changes": {"a list": lambda v, call, s: [("weight", 0.5)], "a key that is not a name": lambda v, call, s: {1: 0.5}},
    "fit_options": {"a list": lambda v, call, s: [("lr", 0.1)], "an unknown argument": lambda v, call, s: {"no_such_argument": 1},
                    "make_cell's own": lambda v, call, s: {"steps": 5}},
    "settings": {"a list": lambda v, call, s: [("steps", 1)],
                 "an unknown argument": lambda v, call, s: {**v, "no_such_argument": 1},
                 "no steps": lambda v, call, s: {"lr": 1e-3}, "a seed": lambda v, call, s: {**v, "seed": 3}},
    "key": {"a string": lambda v, call, s: "dann",
            "without its method": lambda v, call, s: {k: x for k, x in v.items() if k != "method"}},
    "todo": {"not tuples": lambda v, call, s: [1, 2], "a string": lambda v, call, s: "todo"},
    "desc": {"None": lambda v, call, s: None, "a number": lambda v, call, s: 3},
    "baseline": {"a number": lambda v, call, s: 3, "empty": lambda v, call, s: ""},
    "configs": {"empty": lambda v, call, s: {}, "a list": lambda v, call, s: list(v.values()),
                "not Configs": lambda v, call, s: {"plain": 3},
                "a missing baseline": lambda v, call, s: {"x": studies.Config(SourceOnly, baseline="nowhere")},
                "a baseline of other steps": lambda v, call, s: {"x": studies.Config(SourceOnly, steps=5),
                                                                 "y": studies.Config(SourceOnly, baseline="x", steps=6)}},
    "measured_names": {"unknown": lambda v, call, s: v + ["no such measure"], "a string": lambda v, call, s: v[0],
                       "empty": lambda v, call, s: []},
    "measures": {"a string": lambda v, call, s: "label-free scores", "unknown": lambda v, call, s: ["no-such-measure"],
                 "repeated": lambda v, call, s: ["accuracy by contrast"] * 2},
    "argv": {"a string": lambda v, call, s: " ".join(v), "a number among them": lambda v, call, s: v + [0]},
    "command": {"empty": lambda v, call, s: "", "None": lambda v, call, s: None, "a list": lambda v, call, s: [v]},
    "comparisons": {"empty": lambda v, call, s: [], "a string": lambda v, call, s: LINE,
                    "a line without its file": lambda v, call, s: [("tiny.csv", "ok")],
                    "a file that is not stored": lambda v, call, s: [("cells.csv", LINE.replace("tiny.csv", "cells.csv"))]},
}

# the words by which the messages of check_names name an argument
METHOD, PAIRS, STUDY = ("method", "methods"), ("pair", "pairs"), ("study", "studies")
CONFIG = ("configuration", "configurations")
_PROFILE_ROWS = []  # what profile_methods returned in the valid call


def _make(key: int) -> run.Cell:
    return _cell("m", key, 0.5)


SPECS: dict[str, Spec] = {
    # registry
    "benchmark.registry.network": Spec(
        registry.network, lambda s: dict(family="toy", num_classes=s.classes),
        {"family": "choice", "num_classes": "classes", "bottleneck_activation": "choice", "image_size": "count"}, examples=3),
    "benchmark.registry.Entry": Spec(
        registry.Entry, lambda s: dict(method=DANN, options={"weight": 0.1 * (1 + s.seed % 5)}),
        {"method": "method_class", "options": "options", "activation": "choice", "images_only": "flag_all",
         "prepare": "function_or_none", "target_data": "choice"}, examples=2),
    "benchmark.registry.check_names": Spec(
        registry.check_names,
        lambda s: dict(names=["dann", "dan", "ddc"][: 1 + s.seed % 3], known=registry.METHODS, kind="method"),
        {"names": "names_all", "known": "known", "kind": "kind"}, names={"names": METHOD}, examples=2),
    "benchmark.registry.check_seeds": Spec(
        registry.check_seeds, lambda s: dict(seeds=list(range(s.seed, s.seed + s.classes))), {"seeds": "seeds_all"}, examples=2),
    "benchmark.registry.check_inputs": Spec(
        registry.check_inputs, lambda s: dict(name=["dann", "source-only", "ddc"][s.seed % 3], source=SOURCE),
        {"name": "choice", "source": "domain"}, names={"name": METHOD}, examples=2),
    "benchmark.registry.make_method": Spec(
        registry.make_method, lambda s: dict(name="dann", source=SOURCE, target=TARGET, seed=s.seed),
        {"name": "choice", "source": "domain", "target": "domain", "seed": "seed_value", "steps": "count"},
        names={"name": METHOD}, examples=3),
    # cells and results files
    "benchmark.run.Cell": Spec(
        run.Cell, lambda s: dataclasses.asdict(_cells(s)[0]),
        {"method": "text_all", "pair": "text", "seed": "seed_all", "steps": "positive_int", "target_test": "accuracy_all",
         "source_test": "accuracy", "oracle_best_target": "accuracy", "pad": "pad", "seconds": "nonnegative", "device": "text",
         "batch_size": "count", "target_curve": "curve", "scores": "scores"}, examples=2),
    "benchmark.run.cell_settings": Spec(
        run.cell_settings, lambda s: dict(pair=PAIR, steps=s.n, batch_size=s.m),
        {"pair": "choice", "steps": "positive_int", "batch_size": "count"}, names={"pair": PAIRS}, examples=2),
    "benchmark.run.recipe": Spec(run.recipe, lambda s: dict(pair=PAIR), {"pair": "choice"}, names={"pair": PAIRS}, examples=2),
    "benchmark.run.read_cells": Spec(
        run.read_cells, lambda s: dict(path=_results(s, _cells(s), "read")), {"path": "path"}, examples=3),
    "benchmark.run.stored_cells": Spec(
        run.stored_cells, lambda s: dict(study=[None, *studies.STUDIES][s.seed % (1 + len(studies.STUDIES))]),
        {"study": "choice"}, names={"study": STUDY}, legal=("study:None",), examples=3),
    "benchmark.run.results_lock": Spec(
        run.results_lock, lambda s: dict(path=TMP / "lock" / f"{s.seed}.csv"), {"path": "path"}, examples=2),
    "benchmark.run.append_cell": Spec(
        run.append_cell, lambda s: dict(path=TMP / "append" / f"{s.seed}.csv", cell=_cells(s)[0]),
        {"path": "csv_path_all", "cell": "cell"}, examples=3),
    "benchmark.run.append_cells": Spec(
        run.append_cells, lambda s: dict(todo=[(i,) for i in range(s.classes)], make=_make, desc="cells", progress_bar=False,
                                         results=TMP / "appends" / f"{s.seed}.csv"),
        {"todo": "todo", "make": "function", "results": "csv_path", "desc": "desc", "progress_bar": "flag"}, examples=3),
    "benchmark.run.make_cell": Spec(
        run.make_cell, lambda s: dict(name="plain", build=lambda source, target: SourceOnly(toy_classifier()), pair=PAIR,
                                      seed=s.seed, steps=1, batch_size=8, measure_pad=False, measures=()),
        {"name": "text", "build": "function", "pair": "choice", "seed": "seed_value", "steps": "count", "batch_size": "count",
         "device": "device", "amp": "flag", "measure_pad": "flag", "training": "fit_options", "measures": "measures"},
        names={"pair": PAIRS}, examples=1),
    "benchmark.run.run_cell": Spec(
        run.run_cell, lambda s: dict(method_name="source-only", pair=PAIR, seed=s.seed, steps=1, batch_size=8, store=False),
        {"method_name": "choice", "pair": "choice", "seed": "seed_value", "steps": "count", "batch_size": "count",
         "device": "device_all", "amp": "flag", "store": "flag"}, names={"method_name": METHOD, "pair": PAIRS}, examples=1),
    # a resumed benchmark: every cell is in the file already, nothing trains
    "benchmark.run.run_benchmark": Spec(
        run.run_benchmark, lambda s: dict(methods=["source-only"], pairs=[PAIR], seeds=[s.seed], progress_bar=False,
                                          results=_results(s, [_cell("source-only", s.seed, 0.5, PAIR, 2, 8)], "bench")),
        {"methods": "names", "pairs": "names", "seeds": "seeds", "results": "csv_path", "steps": "count", "batch_size": "count",
         "device": "device", "amp": "flag", "progress_bar": "flag"}, names={"methods": METHOD, "pairs": PAIRS}, examples=2),
    # stored runs (none is stored: store=False)
    "benchmark.stored_runs.run_key": Spec(
        stored_runs.run_key, lambda s: dict(name="dann", pair=PAIR, seed=s.seed, settings=run.cell_settings(PAIR)),
        {"name": "choice", "pair": "choice", "seed": "seed_value", "changes": "changes", "device": "device",
         "activation": "choice", "settings": "settings"},
        names={"name": METHOD, "pair": PAIRS}, legal=("activation:None",), examples=3),
    "benchmark.stored_runs.run_path": Spec(
        stored_runs.run_path, lambda s: dict(key=stored_runs.run_key("dann", PAIR, s.seed)), {"key": "key"}, examples=3),
    "benchmark.stored_runs.stored_run": Spec(
        stored_runs.stored_run, lambda s: dict(name="source-only", pair=PAIR, seed=s.seed, settings=run.cell_settings(PAIR, 1, 8),
                                               store=False),
        {"name": "choice", "pair": "choice", "seed": "seed_value", "settings": "settings", "changes": "changes",
         "activation": "choice", "device": "device", "store": "flag"},
        names={"name": METHOD, "pair": PAIRS}, legal=("activation:None",), examples=1),
    "benchmark.stored_runs.recipe_runs": Spec(
        stored_runs.recipe_runs, lambda s: dict(name="source-only", pair=PAIR, seeds=[s.seed], store=False, progress_bar=False),
        {"name": "choice", "pair": "choice", "seeds": "seeds", "changes": "changes", "activation": "choice", "label": "desc",
         "device": "device", "store": "flag", "progress_bar": "flag"},
        names={"name": METHOD, "pair": PAIRS}, legal=("activation:None",), examples=1),
    # studies
    "benchmark.studies.Config": Spec(
        studies.Config, lambda s: dict(make=lambda source: SourceOnly(toy_classifier()), batch_size=s.n, steps=s.n),
        {"make": "function", "batch_size": "count", "baseline": "baseline", "steps": "count"}, examples=2),
    "benchmark.studies.Study": Spec(
        studies.Study, lambda s: dict(pair=PAIR, steps=s.n, configs=dict(TINY.configs),
                                     measures=("label-free scores",) if s.seed % 2 else ()),
        {"pair": "choice", "steps": "count", "configs": "configs", "measures": "measures"}, names={"pair": PAIRS}, examples=2),
    # a resumed study: its cells are in the file already
    "benchmark.studies.run_study": Spec(
        studies.run_study, lambda s: dict(name="tiny", seeds=[s.seed], configs=["plain"], progress_bar=False,
                                          results=_results(s, [_cell("plain", s.seed, 0.5, PAIR, 2)], "study")),
        {"name": "choice", "seeds": "seeds", "results": "csv_path", "configs": "names", "device": "device",
         "progress_bar": "flag"}, names={"name": STUDY, "configs": CONFIG}, examples=2),
    "benchmark.studies.study_cell": Spec(
        studies.study_cell, lambda s: dict(name="tiny", config="plain", seed=s.seed),
        {"name": "choice", "config": "choice", "seed": "seed_value", "device": "device"},
        names={"name": STUDY, "config": CONFIG}, examples=1),
    "benchmark.studies.paired_gains": Spec(
        studies.paired_gains, lambda s: dict(cells=_study_cells(s), study="tiny", config="dann"),
        {"cells": "cells", "study": "choice", "config": "choice"}, names={"study": STUDY, "config": CONFIG}, examples=2),
    "benchmark.studies.study_table": Spec(
        studies.study_table, lambda s: dict(cells=_study_cells(s), study="tiny", configs=["plain", "dann"][: 1 + s.seed % 2]),
        {"cells": "cells", "study": "choice", "configs": "names"}, names={"study": STUDY, "configs": CONFIG}, examples=3),
    # tables
    "benchmark.table.Row": Spec(
        table.Row, lambda s: dataclasses.asdict(table.summarise(_cells(s))[-1]),
        {"pair": "text", "method": "text", "seeds": "count", "target_mean": "accuracy", "target_std": "nonnegative",
         "gap_closed": "finite_float", "oracle_mean": "accuracy", "pad_mean": "pad", "seconds_per_step": "nonnegative",
         "oracle": "flag"}, examples=2),
    "benchmark.table.gap_closed": Spec(
        table.gap_closed, lambda s: dict(method=float(s.rand(1)), source_only=0.25 * float(s.rand(1)),
                                         target_only=0.5 + 0.5 * float(s.rand(1))),
        {"method": "accuracy_all", "source_only": "accuracy", "target_only": "top_accuracy"}, examples=2),
    "benchmark.table.seed_accuracies": Spec(
        table.seed_accuracies, lambda s: dict(cells=_cells(s), pair="p", method="dan", eval_set="source test"),
        {"cells": "cells_all", "pair": "lookup", "method": "lookup", "eval_set": "choice"}, examples=2),
    "benchmark.table.seed_scores": Spec(
        table.seed_scores, lambda s: dict(cells=[dataclasses.replace(c, scores="dark stroke=0.5;bright stroke=0.25")
                                                 for c in _cells(s)], pair="p", method="dan", names=["dark stroke", "bright stroke"]),
        {"cells": "cells", "pair": "lookup", "method": "lookup", "names": "measured_names"},
        names={"names": ("measure",)}, examples=2),
    "benchmark.table.summarise": Spec(
        table.summarise, lambda s: dict(cells=_cells(s)), {"cells": "cells_all"}, legal=("no cells",), examples=2),
    "benchmark.table.to_markdown": Spec(
        table.to_markdown, lambda s: dict(rows=table.summarise(_cells(s)), cells=_cells(s)),
        {"rows": "rows", "cells": "cells", "oracle_column": "flag"}, examples=2),
    "benchmark.table.write_tables": Spec(
        table.write_tables, lambda s: dict(cells=_cells(s), directory=TMP / "tables" / str(s.seed)),
        {"cells": "cells", "directory": "directory", "oracle_column": "flag"}, examples=3),
    # provenance (the package's own files are only read)
    "benchmark.provenance.training_files": Spec(
        provenance.training_files, lambda s: dict(root=PACKAGE), {"root": "root"}, examples=3),
    "benchmark.provenance.code_digest": Spec(
        provenance.code_digest, lambda s: dict(root=PACKAGE), {"root": "root_all"}, examples=3),
    "benchmark.provenance.cpu_kind": Spec(provenance.cpu_kind, lambda s: dict(), {}, examples=1),
    "benchmark.provenance.stored_files": Spec(
        provenance.stored_files, lambda s: dict(root=PACKAGE), {"root": "root"}, examples=3),
    "benchmark.provenance.stale_results": Spec(
        provenance.stale_results, lambda s: dict(root=PACKAGE), {"root": "root"}, examples=3),
    "benchmark.provenance.provenance_path": Spec(
        provenance.provenance_path, lambda s: dict(csv=TMP / f"{s.seed}.csv"), {"csv": "csv_path"}, examples=2),
    "benchmark.provenance.read_provenance": Spec(
        provenance.read_provenance, lambda s: dict(csv=FAKE / "benchmark" / "results" / "tiny.csv"), {"csv": "csv_path"},
        examples=3),
    "benchmark.provenance.command_line": Spec(
        provenance.command_line, lambda s: dict(argv=["--seeds", str(s.seed)], csv=TMP / "c.csv"),
        {"argv": "argv", "csv": "csv_path"}, examples=2),
    "benchmark.provenance.write_provenance": Spec(
        provenance.write_provenance, lambda s: dict(csv=TMP / "prov" / f"{s.seed}.csv", command="python -m tlbook.benchmark",
                                                    resumed=bool(s.seed % 2)),
        {"csv": "csv_path", "command": "command", "resumed": "flag"}, examples=3),
    # verification: the fake package's stored study, re-trained at two steps
    "benchmark.verify.sample_cells": Spec(
        verify.sample_cells, lambda s: dict(n=1 + s.seed % 4, seed=s.seed, root=PACKAGE),
        {"n": "count", "seed": "seed_value", "root": "root"}, examples=3),
    "benchmark.verify.retrain": Spec(
        verify.retrain, lambda s: dict(file="tiny.csv", cell=FAKE_CELL, root=FAKE),
        {"file": "choice", "cell": "cell", "root": "root"}, examples=1),
    "benchmark.verify.compare": Spec(
        verify.compare, lambda s: dict(file="cells.csv", stored=_cells(s)[0],
                                       retrained=dataclasses.replace(_cells(s)[0], target_test=float(s.rand(1)))),
        {"file": "choice", "stored": "cell", "retrained": "same_cell", "tolerance": "nonnegative"}, examples=2),
    "benchmark.verify.restamp": Spec(
        verify.restamp, lambda s: dict(comparisons=[("tiny.csv", LINE)], command="verify", root=FAKE),
        {"comparisons": "comparisons", "command": "command", "root": "root"}, examples=2),
    "benchmark.verify.verify_stored": Spec(
        verify.verify_stored, lambda s: dict(n=1, seed=s.seed, root=FAKE),
        {"n": "count", "seed": "seed_value", "tolerance": "nonnegative", "stamp": "flag", "root": "root"}, examples=1),
}

test_a_valid_call_gives_a_finite_result, test_a_broken_argument_gets_an_error_that_names_it = property_tests(SPECS, KINDS)


# --- the results files ------------------------------------------------------------------------------------

COLUMNS = [f.name for f in dataclasses.fields(run.Cell)]
OPTIONAL = ("batch_size", "target_curve", "scores")  # older files lack the three added last
REQUIRED = [c for c in COLUMNS if c not in OPTIONAL]
cases = st.builds(Sizes, n=st.just(4), m=st.just(4), d=st.just(1), classes=st.integers(1, 4), seed=st.integers(0, 2**16))


def _write(name: str, header: list[str], rows: list[list[str]]) -> Path:
    path = TMP / "files" / name
    path.parent.mkdir(exist_ok=True)
    handle = io.StringIO()
    csv.writer(handle, lineterminator="\n").writerows([header, *rows])
    path.write_text(handle.getvalue())
    return path


def _table(cells: list[run.Cell]) -> list[list[str]]:
    return [[str(v) for v in dataclasses.astuple(c)] for c in cells]


@settings(max_examples=8)
@given(s=cases, change=st.sampled_from(["added", "missing", "twice"]), column=st.integers(0, 99))
def test_a_results_file_of_other_columns_is_refused_naming_the_file_and_the_column(s, change, column):
    cells = _cells(s)
    header, rows = list(COLUMNS), _table(cells)
    if change == "added":
        name = ["note", "lr", "Method", "target test"][column % 4]
        header, rows = header + [name], [r + ["x"] for r in rows]
    elif change == "missing":
        name = REQUIRED[column % len(REQUIRED)]
        keep = [i for i, c in enumerate(header) if c != name]
        header, rows = [header[i] for i in keep], [[r[i] for i in keep] for r in rows]
    else:
        name = COLUMNS[column % len(COLUMNS)]
        header, rows = header + [name], [r + [r[COLUMNS.index(name)]] for r in rows]
    path = _write(f"columns-{change}.csv", header, rows)
    before = path.read_bytes()
    for action in (lambda: run.read_cells(path), lambda: run.append_cell(path, cells[0])):
        with pytest.raises(ValueError) as error:
            action()
        assert str(path) in str(error.value) and repr(name) in str(error.value), str(error.value)
        assert path.read_bytes() == before  # neither reading nor a refused append changes the file


@settings(max_examples=4)
@given(s=cases, dropped=st.sampled_from([("batch_size",), ("target_curve",), ("scores",), OPTIONAL]))
def test_an_older_file_reads_with_the_defaults_and_is_never_appended_to(s, dropped):
    cells = [dataclasses.replace(c, batch_size=64, target_curve="", scores="") for c in _cells(s)]
    keep = [i for i, c in enumerate(COLUMNS) if c not in dropped]
    path = _write("older.csv", [COLUMNS[i] for i in keep], [[r[i] for i in keep] for r in _table(cells)])
    assert run.read_cells(path) == cells
    with path.open("a") as handle:
        handle.write("source-only,p,9")  # and a last line an interruption cut short
    before = path.read_bytes()
    with pytest.raises(ValueError, match="no column"):
        run.append_cell(path, cells[0])  # its rows would not line up with the header
    assert path.read_bytes() == before  # refused whole: not even the cut line is dropped


BAD_VALUES = {"seed": ["-1", "0.5", "x", ""], "steps": ["0", "2.5", ""], "target_test": ["1.5", "nan", "-0.1", "x"],
              "pad": ["3", "inf"], "seconds": ["-1", "x"], "batch_size": ["0", "many"], "method": [""], "target_curve": ["ten"],
              "scores": ["entropy", "SND=x"]}


@settings(max_examples=10)
@given(s=cases, column=st.sampled_from(sorted(BAD_VALUES)), pick=st.integers(0, 99), row=st.integers(0, 99))
def test_a_malformed_row_is_refused_naming_the_file_the_line_and_the_column(s, column, pick, row):
    rows = _table(_cells(s))
    row %= len(rows)
    rows[row][COLUMNS.index(column)] = BAD_VALUES[column][pick % len(BAD_VALUES[column])]
    path = _write("malformed.csv", COLUMNS, rows)
    before = path.read_bytes()
    with pytest.raises(ValueError) as error:
        run.read_cells(path)
    message = str(error.value)
    assert str(path) in message and f"line {row + 2}" in message and column in message, message
    assert path.read_bytes() == before


@settings(max_examples=6)
@given(s=cases, change=st.sampled_from(["a field more", "a field less"]), row=st.integers(0, 99))
def test_a_row_of_another_length_is_refused_naming_the_file_and_the_line(s, change, row):
    rows = _table(_cells(s))
    row %= len(rows)
    rows[row] = rows[row] + ["x"] if change == "a field more" else rows[row][:-1]
    path = _write("length.csv", COLUMNS, rows)
    with pytest.raises(ValueError, match=f"line {row + 2}") as error:
        run.read_cells(path)
    assert str(path) in str(error.value)


@settings(max_examples=6)
@given(s=cases)
def test_appended_cells_read_back_as_they_were_and_each_append_keeps_what_was_there(s):
    path = TMP / "roundtrip" / f"{s.seed}-{s.classes}.csv"
    path.unlink(missing_ok=True)
    cells = _cells(s)
    for cell in cells:
        before = path.read_bytes() if path.exists() else b""
        run.append_cell(path, cell)
        assert path.read_bytes().startswith(before)
    assert run.read_cells(path) == cells


@settings(max_examples=3)
@given(s=cases)
def test_write_tables_makes_both_files_or_leaves_the_old_ones(s):
    folder = TMP / "tables-whole" / str(s.seed)
    cells = _cells(s)
    csv_path, md_path = table.write_tables(cells, folder)
    before = csv_path.read_bytes(), md_path.read_bytes()
    rows = list(csv.DictReader(csv_path.open()))
    assert [r["method"] for r in rows] == ["source-only", "target-only", "dan"]
    with pytest.raises(ValueError, match="twice"):
        table.write_tables(cells + cells[:1], folder)  # a cell read twice: refused before either file is touched
    assert (csv_path.read_bytes(), md_path.read_bytes()) == before
    assert sorted(p.name for p in folder.iterdir()) == ["summary.csv", "summary.md"]  # no temporary file left


@settings(max_examples=4)
@given(s=cases, damage=st.sampled_from(["{not json", "[1, 2]", "", "\"text\""]))
def test_a_provenance_record_that_cannot_be_read_is_named_and_never_overwritten_by_a_resumed_run(s, damage):
    path = TMP / "prov-damaged" / f"{s.seed}.csv"
    path.parent.mkdir(exist_ok=True)
    record = provenance.provenance_path(path)
    record.write_text(damage)
    for action in (lambda: provenance.read_provenance(path), lambda: provenance.write_provenance(path, "cmd", resumed=True)):
        with pytest.raises(ValueError) as error:
            action()
        assert str(record) in str(error.value)
        assert record.read_text() == damage
    stored = DAMAGED / "benchmark" / "results" / "tiny.csv"
    provenance.provenance_path(stored).write_text(damage)
    with pytest.raises(ValueError, match=str(provenance.provenance_path(stored))):
        verify.restamp([("tiny.csv", LINE)], "verify", root=DAMAGED)
    assert provenance.provenance_path(stored).read_text() == damage
    provenance.write_provenance(path, "cmd")  # a run from scratch replaces it: it owes nothing to earlier cells
    assert provenance.read_provenance(path)["command"] == "cmd"
    assert not [p for p in path.parent.iterdir() if p.suffix == ".tmp"]


UNKNOWN = {  # a call with an unknown name -> the names it must list
    "method": (lambda name: registry.make_method(name, SOURCE, TARGET), registry.METHODS),
    "pair": (lambda name: run.recipe(name), run.RECIPES),
    "family": (lambda name: registry.network(name, 2), ("digits", "toy", "office")),
    "study": (lambda name: studies.study_cell(name, "plain", 0), studies.STUDIES),
    "configuration": (lambda name: studies.study_cell("tiny", name, 0), TINY.configs),
}


@settings(max_examples=10)
@given(what=st.sampled_from(sorted(UNKNOWN)), name=st.sampled_from(["dann ", "DANN", "x", "synth->", "source_only", "tiny2"]))
def test_an_unknown_name_is_refused_with_the_known_ones_listed(what, name):
    call, known = UNKNOWN[what]
    with pytest.raises(ValueError) as error:
        call(name)
    assert repr(name) in str(error.value) and all(k in str(error.value) for k in known), str(error.value)


# --- the tables' numbers ----------------------------------------------------------------------------------

@settings(max_examples=10)
@given(s=cases, order=st.randoms(use_true_random=False))
def test_the_summary_is_the_mean_spread_and_share_of_the_gap_over_seeds_in_any_order(s, order):
    cells = _cells(s)
    shuffled = list(cells)
    order.shuffle(shuffled)
    by = {m: np.array([c.target_test for c in cells if c.method == m]) for m in ("source-only", "target-only", "dan")}
    rows = {r.method: r for r in table.summarise(shuffled)}
    for method, accuracy in by.items():
        assert rows[method].seeds == s.classes and rows[method].target_mean == pytest.approx(accuracy.mean())
        assert rows[method].target_std == pytest.approx(accuracy.std(ddof=1) if s.classes > 1 else 0.0)
    so, to = by["source-only"].mean(), by["target-only"].mean()
    if to > so:
        assert rows["dan"].gap_closed == pytest.approx((by["dan"].mean() - so) / (to - so))
        assert rows["dan"].gap_closed == pytest.approx(table.gap_closed(by["dan"].mean(), so, to))
    else:
        assert rows["dan"].gap_closed is None
    seeds, accuracy = table.seed_accuracies(shuffled, "p", "dan")
    assert seeds == sorted(seeds) and accuracy.tolist() == by["dan"].tolist()


@settings(max_examples=8)
@given(s=cases, missing=st.integers(0, 99))
def test_paired_gains_pair_by_seed_and_refuse_a_seed_without_its_baseline(s, missing):
    cells = _study_cells(s)
    seeds, gains = studies.paired_gains(cells, "tiny", "dann")
    by = {(c.method, c.seed): c.target_test for c in cells}
    assert seeds == list(range(s.seed, s.seed + s.classes))  # one seed too: a table shows it
    assert gains.tolist() == pytest.approx([by["dann", k] - by["plain", k] for k in seeds])
    gone = seeds[missing % len(seeds)]
    partial = [c for c in cells if (c.method, c.seed) != ("plain", gone)]
    missing_seed = rf"did not run seeds \[{gone}\]" if len(seeds) > 1 else "no cells for method 'plain'"
    with pytest.raises(ValueError, match=missing_seed):
        studies.paired_gains(partial, "tiny", "dann")


# --- the command line -------------------------------------------------------------------------------------

BAD_ARGUMENTS = st.one_of(
    st.sampled_from(sorted(KINDS["device_all"])).map(
        lambda way: (["--device", str(KINDS["device_all"][way](None, None, None))], "--device")),
    st.lists(st.integers(-3, 3), min_size=1, max_size=4).filter(lambda s: min(s) < 0 or len(set(s)) < len(s))
      .map(lambda seeds: (["--seeds", *map(str, seeds)], "--seeds")),
    st.sampled_from(["0.5", "x", "1e3", ""]).map(lambda seed: (["--seeds", seed], "--seeds")),
    st.sampled_from(["dann-typo", "DANN", "source_only"]).map(lambda m: (["--methods", "dann", m], "--methods")),
    st.sampled_from(["mnist->typo", "synth", "moons->moons"]).map(lambda p: (["--pairs", p], "--pairs")),
    st.sampled_from(["--steps", "--batch-size", "--verify-stored"]).flatmap(
        lambda option: st.sampled_from(["0", "-2", "x", "1.5"]).map(lambda value: ([option, value], option))),
    st.sampled_from(["nope", "tiny-typo"]).map(lambda name: (["--study", name], "--study")),
    st.just((["--study", "tiny", "--methods", "dsn"], "--methods")),
    st.just((["--out", str(A_FILE)], "--out")),
)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=BAD_ARGUMENTS)
def test_the_command_refuses_a_bad_argument_in_one_line_with_status_2(bad, capsys, monkeypatch):
    argv, option = bad
    for name in ("run_benchmark", "run_study", "profile_methods", "verify_stored"):  # nothing may start
        monkeypatch.setattr(f"tlbook.benchmark.__main__.{name}", lambda *a, **k: pytest.fail(f"{argv} was not refused"))
    if "--out" not in argv:
        argv = [*argv, "--out", str(TMP / "cli")]
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and option in err and "Traceback" not in err, (argv, err)


# --- profile_methods and the distributed helpers: hand-written properties ----------------------------------

PROFILE_BREAKS = {"methods": KINDS["names"], "pair": KINDS["choice"], "steps": KINDS["count"],
                  "batch_size": KINDS["count"], "device": KINDS["device"], "amp": KINDS["flag"]}


@settings(max_examples=4)
@given(argument=st.sampled_from(sorted(PROFILE_BREAKS)), way=st.integers(0, 99))
def test_profile_methods_times_a_valid_request_and_refuses_a_broken_one(argument, way):
    call = dict(methods=["source-only"], pair=PAIR, steps=1, batch_size=8, device="cpu", amp=False)
    if not _PROFILE_ROWS:  # the valid call, once: 20 warm-up steps and one timed step
        _PROFILE_ROWS.extend(profile.profile_methods(**call))
        (row,) = _PROFILE_ROWS
        assert row["method"] == "source-only" and math.isfinite(row["steps_per_s"]) and row["steps_per_s"] > 0
        assert math.isnan(row["peak_mib"])  # not measured off CUDA
    ways = PROFILE_BREAKS[argument]
    call[argument] = list(ways.values())[way % len(ways)](call[argument], call, None)
    with pytest.raises((ValueError, TypeError)) as error:
        profile.profile_methods(**call)
    words = {"methods": METHOD, "pair": PAIRS}.get(argument, (argument,))
    assert any(word in str(error.value) for word in words), str(error.value)


@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.sampled_from([None, "1", "2", "8"]), depth=st.integers(0, 3))
def test_outside_torchrun_a_process_is_rank_0_of_1_and_alone_nests(size, depth, monkeypatch):
    if size is None:
        monkeypatch.delenv("WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("WORLD_SIZE", size)
    assert distributed.rank() == 0 and distributed.world_size() == 1 and distributed.barrier() is None
    assert distributed.launched() == (size not in (None, "1"))  # torchrun's variables, with no group joined yet

    def nest(level: int) -> None:
        if level:
            with distributed.alone():
                assert not distributed.launched()
                nest(level - 1)

    nest(depth)
    assert distributed.launched() == (size not in (None, "1"))  # every block left: as before
    if size in (None, "1"):
        distributed.setup("cpu")  # outside torchrun there is no group to join: nothing starts
    assert distributed.rank() == 0 and distributed.world_size() == 1


@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.sampled_from(["0", "-1", "two", "", "1.5"]))
def test_a_broken_world_size_is_named(size, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", size)
    with pytest.raises(ValueError, match="WORLD_SIZE"):
        distributed.launched()


@settings(max_examples=8)
@given(way=st.sampled_from(sorted(KINDS["device_all"])))
def test_setup_refuses_a_device_this_machine_lacks(way):
    with pytest.raises((ValueError, TypeError), match="device"):
        distributed.setup(KINDS["device_all"][way](None, None, None))


@settings(max_examples=6)
@given(broken=st.sampled_from(["module", "optimizers"]), way=st.integers(0, 2))
def test_data_parallel_checks_its_arguments_then_asks_for_torchrun(broken, way):
    module = torch.nn.Linear(2, 2)
    call = dict(module=module, optimizers=[torch.optim.SGD(module.parameters(), lr=0.1)])
    with pytest.raises(RuntimeError, match="torchrun"):
        distributed.DataParallel(**call)  # valid arguments: the missing process group is the one problem
    call[broken] = [None, "sgd", [module]][way] if broken == "optimizers" else [None, "linear", torch.zeros(2)][way]
    with pytest.raises(TypeError, match=broken):
        distributed.DataParallel(**call)


PROPERTIES = {
    "benchmark.profile.profile_methods": test_profile_methods_times_a_valid_request_and_refuses_a_broken_one,
    "distributed.rank": test_outside_torchrun_a_process_is_rank_0_of_1_and_alone_nests,
    "distributed.world_size": test_outside_torchrun_a_process_is_rank_0_of_1_and_alone_nests,
    "distributed.alone": test_outside_torchrun_a_process_is_rank_0_of_1_and_alone_nests,
    "distributed.barrier": test_outside_torchrun_a_process_is_rank_0_of_1_and_alone_nests,
    "distributed.launched": test_a_broken_world_size_is_named,
    "distributed.setup": test_setup_refuses_a_device_this_machine_lacks,
    "distributed.DataParallel": test_data_parallel_checks_its_arguments_then_asks_for_torchrun,
}
