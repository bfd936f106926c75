"""Write the student versions of the book's exercise notebooks (nbgrader conventions).

An exercise notebook marks its cells as nbgrader does (``cell.metadata.nbgrader``):

- a code cell with ``"solution": true`` holds a solution between ``### BEGIN SOLUTION`` and
  ``### END SOLUTION``; the student version keeps what is outside the markers and replaces what is
  inside with ``# YOUR CODE HERE`` and a ``raise NotImplementedError(...)`` that names the exercise;
- a markdown cell with ``"solution": true`` (a written answer) becomes ``YOUR ANSWER HERE``;
- a cell with ``"grade": true`` is a test: it stays, except for what lies between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.

Outputs are cleared and the nbgrader metadata kept, so an instructor can also run nbgrader
itself on the result. Usage::

    python -m tlbook.assignments student/            # every exercise notebook under book/
    python -m tlbook.assignments student/ --book path/to/book
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

__all__ = ["exercise_notebooks", "student_version", "write_student_versions"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION.*?### END SOLUTION[ \t]*$", re.S | re.M)


def _grading(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def exercise_notebooks(book: str | Path) -> list[Path]:
    """Notebooks under ``book`` with at least one nbgrader solution cell, in path order."""
    found = []
    for path in sorted(Path(book).rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts or "_build" in path.parts:
            continue
        if any(_grading(c).get("solution") for c in nbformat.read(path, as_version=4).cells):
            found.append(path)
    return found


def _stub(indent: str, grade_id: str) -> str:
    return (f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError("
            f"\"exercise '{grade_id}' is not solved yet: replace this line with your code\")")


def student_version(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with every solution removed and every hidden test dropped."""
    result = nbformat.from_dict(notebook)
    for cell in result.cells:
        grading = _grading(cell)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if grading.get("solution"):
            if cell.cell_type == "markdown":
                cell.source = "YOUR ANSWER HERE"
                continue
            if BEGIN not in cell.source or END not in cell.source:
                raise ValueError(f"solution cell {grading.get('grade_id', '?')!r} has no {BEGIN} / {END} markers")
            cell.source = SOLUTION.sub(lambda m: _stub(m.group(1), grading.get("grade_id", "?")), cell.source)
        if grading.get("grade"):
            cell.source = HIDDEN.sub("", cell.source)
    return result


def write_student_versions(out: str | Path, book: str | Path = "book") -> list[Path]:
    """Write the student version of every exercise notebook under ``book`` to ``out``, keeping
    the folder structure (e.g. ``out/02_discrepancy/exercises.ipynb``). Returns the written paths."""
    book, out = Path(book), Path(out)
    notebooks = exercise_notebooks(book)
    if not notebooks:
        raise FileNotFoundError(f"no exercise notebooks (nbgrader solution cells) under {book.resolve()}")
    written = []
    for path in notebooks:
        target = out / path.relative_to(book)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student_version(nbformat.read(path, as_version=4)), target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlbook.assignments", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="folder for the student notebooks")
    parser.add_argument("--book", default="book", help="the book's folder (default: book)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    written = write_student_versions(args.out, args.book)
    for path in written:
        print(path)
    print(f"{len(written)} student notebooks written in {time.perf_counter() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
