"""Provenance of the stored results: which code made each results CSV, and whether the current code still does.

Each results CSV ``X.csv`` written by ``python -m tlbook.benchmark`` gets ``X.provenance.json`` beside it:
the command that refreshes it, the tlbook and torch versions, the date, the threads, and ``code_digest()``
of the code its cells ran. ``stale_results()`` compares the stored files' digests with the current code
(the book's build warns with its messages: ``book/_ext/stored_results.py``).
"""
from __future__ import annotations

import datetime
import json
import os
import shlex
import threading
from pathlib import Path

from .. import _checks
from .._code import PACKAGE, python_files, source_digest
from ._args import flag, folder, path as _path

__all__ = ["MIXED", "PRESENTATION", "REFRESH", "code_digest", "cpu_kind", "command_line", "provenance_path", "read_provenance",
           "stale_results", "stored_files", "training_files", "write_provenance"]

#: tlbook's files (relative to the package) that no stored cell executes: they present results, check
#: students' code, or serve another problem, domain or network than the stored cells'. Every OTHER ``.py``
#: file of tlbook counts as training code: ``import tlbook`` imports every module, so the modules a cell
#: loads are all of them, and a module added later counts until it is listed here.
PRESENTATION = (
    "__init__.py", "_code.py", "assignments.py", "claims.py", "experiment.py", "plot.py",  # re-exports, presentation
    "check", "zsl", "losses/zsl.py",  # students' checkers; zero-shot learning (chapter 5)
    "label_shift.py",  # estimates computed after training, on trained models (selection.py's scores are stored)
    "finetune/__init__.py", "finetune/discriminative.py", "finetune/l2sp.py", "finetune/layers.py",  # fine-tuning
    "finetune/method.py", "finetune/peft.py", "finetune/self_taught.py",  # (chapter 1); the few-labels study's SDT
    # starts from a model of finetune/pretrained.py, which counts
    "nn/sequence.py", "data/sequences.py", "data/toy.py", "data/office.py", "data/benchmarks.py",  # no stored cell's domains
    "benchmark/__init__.py", "benchmark/__main__.py", "benchmark/profile.py", "benchmark/provenance.py",
    "benchmark/table.py", "benchmark/verify.py",  # the command line, timing, tables, these checks
)

#: The commands that refresh the files the book reads, from the repository root (a study resumes, so the old
#: file goes first: a file mixing cells of two codes is stale).
REFRESH = {
    "cells.csv": "rm -f tlbook/benchmark/results/cells.csv && OMP_NUM_THREADS=1 python -m tlbook.benchmark --out tlbook/benchmark/results --oracle",
    "adaptation-2000.csv": "rm -f tlbook/benchmark/results/adaptation-2000.csv && OMP_NUM_THREADS=1 python -m "
                           "tlbook.benchmark --study adaptation-2000 --seeds 0 1 2 3 4 --out tlbook/benchmark/results",
    "discrepancy-600.csv": "rm -f tlbook/benchmark/results/discrepancy-600.csv && OMP_NUM_THREADS=1 python -m "
                           "tlbook.benchmark --study discrepancy-600 --seeds 0 1 2 --out tlbook/benchmark/results",
    "conditional-2000.csv": "rm -f tlbook/benchmark/results/conditional-2000.csv && OMP_NUM_THREADS=1 python -m "
                            "tlbook.benchmark --study conditional-2000 --seeds 0 1 2 3 4 --out tlbook/benchmark/results",
    "blended-contrast.csv": "rm -f tlbook/benchmark/results/blended-contrast.csv && OMP_NUM_THREADS=1 python -m "
                            "tlbook.benchmark --study blended-contrast --seeds 0 1 2 3 4 --out tlbook/benchmark/results",
    "self-training.csv": "rm -f tlbook/benchmark/results/self-training.csv && OMP_NUM_THREADS=1 python -m "
                         "tlbook.benchmark --study self-training --seeds 0 1 2 3 --out tlbook/benchmark/results",
    "few-labels.csv": "rm -f tlbook/benchmark/results/few-labels.csv && OMP_NUM_THREADS=1 python -m "
                      "tlbook.benchmark --study few-labels --seeds 0 1 2 --out tlbook/benchmark/results",
}
MIXED = "mixed"  # the digest of a file resumed with other code than its earlier cells': never current


def _write_text(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` whole or not at all: to a temporary file beside it, then renamed over it, so
    an interruption or a failure leaves the old file as it was (line ends as given)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _root(root: object, where: str) -> Path:
    return folder(root, "root", where, holding="__init__.py")


def training_files(root: Path = PACKAGE) -> list[str]:
    """The files ``code_digest`` covers: every ``.py`` file of the package at ``root`` but ``PRESENTATION``'s."""
    return python_files(["."], _root(root, "training_files"), PRESENTATION)


def code_digest(root: Path = PACKAGE) -> str:
    """SHA-256 over the source of the tlbook modules that training a stored cell executes (``training_files``):
    data generation, ``nn``, ``losses``, ``methods``, ``train``, ``metrics``, ``schedules``, ``distributed``,
    ``files``, ``_utils`` and the benchmark's ``registry``, ``run`` and ``studies``. Changing any of them changes
    it; changing a presentation module (``PRESENTATION``: ``claims``, ``plot``, ``benchmark/table``, ...) does not."""
    return source_digest(["."], _root(root, "code_digest"), PRESENTATION)


def provenance_path(csv: Path) -> Path:
    """``X.provenance.json`` beside ``X.csv``."""
    csv = _path(csv, "csv", "provenance_path", suffix=".csv")
    return csv.with_name(f"{csv.stem}.provenance.json")


def read_provenance(csv: Path) -> dict | None:
    """The provenance record of the results file ``csv`` (None if it has none); a record that is not a JSON
    object is an error naming its file (it is never overwritten unread)."""
    path = provenance_path(csv)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"read_provenance: {path} is not valid JSON ({error}); restore it or remove it (the results then "
                         "read as stale)") from None
    if not isinstance(record, dict):
        raise ValueError(f"read_provenance: {path} must hold a JSON object (the record), got {type(record).__name__}")
    return record


def command_line(argv: list[str], csv: Path) -> str:
    """The command that refreshes ``csv``: remove it (a run resumes), then ``python -m tlbook.benchmark ARGV``
    with the thread setting of this run."""
    if isinstance(argv, (str, bytes)) or not isinstance(argv, (list, tuple)) or not all(isinstance(a, str) for a in argv):
        raise TypeError(f"command_line: argv must be a list of the command's arguments (strings), got {_checks._got(argv)}")
    csv = _path(csv, "csv", "command_line", suffix=".csv")
    threads = os.environ.get("OMP_NUM_THREADS")
    prefix = f"OMP_NUM_THREADS={threads} " if threads else ""
    return f"rm -f {shlex.quote(str(csv))} && {prefix}{shlex.join(['python', '-m', 'tlbook.benchmark', *argv])}"


def write_provenance(csv: Path, command: str, resumed: bool = False, **notes: object) -> Path:
    """Record that the current code made the results file ``csv`` with ``command`` (``notes``: extra fields).

    ``resumed``: the run kept cells already in the file. Unless the file's record says the current code made
    them, the digest is recorded as ``MIXED``: the file then reads as stale until refreshed from scratch. The
    record is written whole or not at all (``X.provenance.json`` is never left half written)."""
    import torch

    from .. import __version__

    where = "write_provenance"
    csv = _path(csv, "csv", where, suffix=".csv")
    if not isinstance(command, str) or not command.strip():
        raise TypeError(f"{where}: command must be the command that re-makes the file (a non-empty str), got {_checks._got(command)}")
    flag(resumed, "resumed", where)
    if not csv.parent.is_dir():
        raise ValueError(f"{where}: csv {csv} is not in an existing folder")
    digest, before = code_digest(), (read_provenance(csv) or {}) if resumed else {}
    if resumed and before.get("code_digest") != digest:
        digest = MIXED
    if resumed:  # this run added cells: the command that re-makes the whole file is the earlier one
        command = REFRESH.get(csv.name) or before.get("command") or command
    fixed = {"results", "command", "tlbook", "torch", "date", "threads", "cpu", "code_digest"}
    if fixed & set(notes):
        raise ValueError(f"{where}: notes must not set the record's own fields {sorted(fixed & set(notes))}")
    record = {"results": csv.name, "command": command, "tlbook": __version__, "torch": torch.__version__,
              "date": datetime.date.today().isoformat(), "threads": torch.get_num_threads(), "cpu": cpu_kind(),
              "code_digest": digest, **notes}
    path = provenance_path(csv)
    _write_text(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return path


def cpu_kind() -> str:
    """The processor as torch's kernels see it, e.g. "x86_64 AVX512": the same code and threads on another kind of
    CPU sum in another order, and a long training drifts by a point or two (results/README.md)."""
    import platform

    import torch

    return f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()}"


def stored_files(root: Path = PACKAGE) -> list[Path]:
    """The stored results CSVs (the benchmark's cells and the studies; not the summary made from the cells)."""
    root = folder(root, "root", "stored_files", holding="benchmark/results")
    return sorted(p for p in (root / "benchmark" / "results").glob("*.csv") if p.name != "summary.csv")


def stale_results(root: Path = PACKAGE) -> list[str]:
    """One message per stored results file whose recorded code digest is not the current code's (or that has
    no record), naming the file and the command that refreshes it; empty when all are current."""
    folder(root, "root", "stale_results", holding="benchmark/results")
    digest, messages = code_digest(root), []
    for csv in stored_files(root):
        record = read_provenance(csv)
        where = f"tlbook/benchmark/results/{csv.name}"
        command = (record or {}).get("command") or REFRESH.get(csv.name, "python -m tlbook.benchmark (results/README.md)")
        if record is None:
            messages.append(f"stored results {where} have no provenance ({provenance_path(csv).name}); "
                            f"make them again from the repository root: {command}")
        elif record.get("code_digest") != digest:
            messages.append(f"stored results {where} were made by other code (digest {record.get('code_digest', '?')[:12]}, "
                            f"the current training code's {digest[:12]}): the book may report numbers this code no longer "
                            f"gives. Refresh them from the repository root: {command}")
    return messages
