"""Write the student versions of the book's exercise notebooks (nbgrader conventions).

The exercise notebooks *with* their solutions live in ``solutions/<chapter>/exercises.ipynb`` (the
instructors' source, what nbgrader calls ``source/``); the book publishes their student versions in
``book/<chapter>/exercises.ipynb``. An exercise notebook marks its cells as nbgrader does
(``cell.metadata.nbgrader``):

- a code cell with ``"solution": true`` holds a solution between ``### BEGIN SOLUTION`` and
  ``### END SOLUTION``; the student version keeps what is outside the markers and replaces what is
  inside with ``# YOUR CODE HERE`` and a ``raise NotImplementedError(...)`` that names the exercise;
- a markdown cell with ``"solution": true`` (a written answer) becomes ``YOUR ANSWER HERE``;
- a cell with ``"grade": true`` is a test: it stays, except for what lies between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.

Outputs are cleared and the nbgrader metadata kept, so an instructor can also run nbgrader itself on
the result. Every code cell from the first exercise on is tagged ``raises-exception``: a student who
runs the notebook still stops at the first unsolved exercise (Jupyter ignores the tag), while the
book's build executes the whole page and shows each "not solved yet" message instead of failing.

The command never writes into the folder it reads, nor over a notebook that holds solutions::

    python -m tlbook.assignments student/            # every exercise notebook under solutions/
    python -m tlbook.assignments book/               # refresh the book's student pages
    python -m tlbook.assignments student/ --source path/to/solutions
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

try:
    import nbformat
except ImportError as error:  # a plain `pip install tlbook` does not bring Jupyter along
    raise ImportError("tlbook.assignments needs nbformat: pip install 'tlbook[assignments]' (or nbformat)") from error

__all__ = ["exercise_notebooks", "holds_solutions", "student_version", "write_student_versions"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION.*?### END SOLUTION[ \t]*$", re.S | re.M)
MAY_STOP = "raises-exception"  # nbclient and nbval let a cell with this tag raise


def _grading(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _read(path: Path) -> nbformat.NotebookNode:
    try:
        return nbformat.read(path, as_version=4)
    except Exception as error:  # not JSON, not a notebook, an unknown nbformat version, ...
        raise ValueError(f"{path} is not a readable Jupyter notebook ({type(error).__name__}: {error})") from None


def holds_solutions(notebook: nbformat.NotebookNode) -> bool:
    """Whether any cell still holds a solution region or a hidden test (an instructor's notebook)."""
    return any(BEGIN in cell.source or "### BEGIN HIDDEN TESTS" in cell.source for cell in notebook.cells)


def exercise_notebooks(source: str | Path) -> list[Path]:
    """Notebooks under ``source`` with at least one nbgrader solution cell, in path order."""
    found = []
    for path in sorted(Path(source).rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts or "_build" in path.parts:
            continue
        if any(_grading(c).get("solution") for c in _read(path).cells):
            found.append(path)
    return found


def _stub(indent: str, grade_id: str) -> str:
    return (f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError("
            f"\"exercise '{grade_id}' is not solved yet: replace this line with your code\")")


def _check_markers(source: str, begin: str, end: str, where: str) -> None:
    """Every ``begin`` marker is closed by an ``end`` before the next ``begin``, and no ``end`` comes unopened:
    a malformed pair would otherwise leave a solution or a hidden test in the student's version."""
    depth = 0
    for number, line in enumerate(source.splitlines(), 1):
        marker = line.strip()
        if marker.startswith(begin):
            if depth:
                raise ValueError(f"{where}, line {number}: a second {begin!r} before the first one's {end!r}")
            depth = 1
        elif marker.startswith(end):
            if not depth:
                raise ValueError(f"{where}, line {number}: {end!r} without a {begin!r} before it")
            depth = 0
    if depth:
        raise ValueError(f"{where}: {begin!r} is never closed by {end!r}")


def student_version(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with every solution removed and every hidden test dropped; every code
    cell from the first exercise on is tagged ``raises-exception``."""
    result = nbformat.from_dict(notebook)
    exercise_started = False
    for index, cell in enumerate(result.cells):
        grading = _grading(cell)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            exercise_started = exercise_started or bool(grading.get("solution"))
            tags = cell.metadata.setdefault("tags", [])
            if exercise_started and MAY_STOP not in tags:
                tags.append(MAY_STOP)
            if not tags:
                del cell.metadata["tags"]
        where = f"cell {grading.get('grade_id') or index}"
        _check_markers(cell.source, BEGIN, END, where)
        _check_markers(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS", where)
        if grading.get("solution"):
            if cell.cell_type == "markdown":
                cell.source = "YOUR ANSWER HERE"
                continue
            if BEGIN not in cell.source or END not in cell.source:
                raise ValueError(f"solution cell {grading.get('grade_id', '?')!r} has no {BEGIN} / {END} markers")
            cell.source = SOLUTION.sub(lambda m: _stub(m.group(1), grading.get("grade_id", "?")), cell.source)
        if grading.get("grade"):
            cell.source = HIDDEN.sub("", cell.source)
        if "### BEGIN" in cell.source or "### END" in cell.source:  # a marker left: never guess what it hid
            raise ValueError(f"{where}: solution or hidden-test markers in a cell nbgrader does not grade as such "
                             "(mark it with nbgrader's 'solution' or 'grade' metadata, or remove the markers)")
    return result


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def write_student_versions(out: str | Path, source: str | Path = "solutions") -> list[Path]:
    """Write the student version of every exercise notebook under ``source`` to ``out``, keeping
    the folder structure (e.g. ``out/02_discrepancy/exercises.ipynb``). Returns the written paths.

    Refuses, before writing anything, to write into ``source`` itself or over a notebook that
    holds solutions or hidden tests."""
    source, out = Path(source), Path(out)
    if _inside(out, source):
        raise ValueError(f"the student versions would be written into {source}, the folder they are made from: "
                         "choose another output folder (e.g. student/)")
    notebooks = exercise_notebooks(source)
    if not notebooks:
        raise FileNotFoundError(f"no exercise notebooks (nbgrader solution cells) under {source.resolve()}")
    targets = [out / path.relative_to(source) for path in notebooks]
    for target in targets:
        if target.exists() and holds_solutions(_read(target)):
            raise FileExistsError(f"{target} holds solutions (### BEGIN SOLUTION or hidden tests); "
                                  "it will not be overwritten by a student version")
    for path, target in zip(notebooks, targets):
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student_version(_read(path)), target)
    return targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlbook.assignments", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="folder for the student notebooks")
    parser.add_argument("--source", default="solutions",
                        help="the folder of exercise notebooks with solutions (default: solutions)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        written = write_student_versions(args.out, args.source)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        parser.exit(2, f"python -m tlbook.assignments: error: {error}\n")
    for path in written:
        print(path)
    print(f"{len(written)} student notebooks written in {time.perf_counter() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
