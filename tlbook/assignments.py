"""Write the student versions of the book's exercise notebooks (nbgrader conventions).

The exercise notebooks *with* their solutions live in ``solutions/<chapter>/exercises.ipynb`` (the
instructors' source, what nbgrader calls ``source/``); the book publishes their student versions in
``book/<chapter>/exercises.ipynb``. An exercise notebook marks its cells as nbgrader does
(``cell.metadata.nbgrader``):

- a code cell with ``"solution": true`` holds a solution between ``### BEGIN SOLUTION`` and
  ``### END SOLUTION``; the student version keeps what is outside the markers and replaces what is
  inside with ``CODE_STUB`` (``# YOUR CODE HERE`` and a ``raise NotImplementedError(...)`` that says so);
- a markdown cell with ``"solution": true`` (a written answer) becomes ``YOUR ANSWER HERE``;
- a cell with ``"grade": true`` is a test: it stays, except for what lies between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.

Outputs are cleared and cells are locked as ``nbgrader generate_assignment`` locks them (``editable`` and
``deletable`` set to false, a checksum of each graded, solution or read-only cell), so the result is the
release version of an nbgrader course: with ``solutions/nbgrader_config.py`` nbgrader writes the same
cells (a test compares them). Every code cell from the first exercise on is tagged ``raises-exception``: a student who
runs the notebook still stops at the first unsolved exercise (Jupyter ignores the tag), while the
book's build executes the whole page and shows each "not solved yet" message instead of failing.

The command never writes into the folder it reads, nor over a notebook that holds solutions or a
student's work (anything but a student version it wrote, unchanged), and refuses any malformed marker::

    python -m tlbook.assignments student/            # every exercise notebook under solutions/
    python -m tlbook.assignments book/               # refresh the book's student pages
    python -m tlbook.assignments student/ --source path/to/solutions
"""
from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from pathlib import Path

try:
    import nbformat
except ImportError as error:  # a plain `pip install tlbook` does not bring Jupyter along
    raise ImportError("tlbook.assignments needs nbformat: pip install 'tlbook[assignments]' (or nbformat)") from error

__all__ = ["CODE_STUB", "exercise_notebooks", "holds_solutions", "student_version", "write_student_versions"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MAY_STOP = "raises-exception"  # nbclient and nbval let a cell with this tag raise
CODE_STUB = '# YOUR CODE HERE\nraise NotImplementedError("not solved yet: replace these two lines with your code")'
TEXT_STUB = "YOUR ANSWER HERE"


def _grading(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _read(path: Path) -> nbformat.NotebookNode:
    try:
        return nbformat.read(path, as_version=4)
    except Exception as error:  # not JSON, not a notebook, an unknown nbformat version, ...
        raise ValueError(f"{path} is not a readable Jupyter notebook ({type(error).__name__}: {error})") from None


def holds_solutions(notebook: nbformat.NotebookNode) -> bool:
    """Whether any cell still holds a solution region or a hidden test (an instructor's notebook)."""
    notebook = _notebook(notebook, "holds_solutions")
    return any(BEGIN in cell.source or BEGIN_HIDDEN in cell.source for cell in notebook.cells)


def exercise_notebooks(source: str | Path) -> list[Path]:
    """Notebooks under ``source`` with at least one nbgrader solution cell, in path order."""
    if not isinstance(source, (str, Path)):
        raise TypeError(f"exercise_notebooks: source must be a folder (a str or a Path), got {type(source).__name__}")
    if not Path(source).exists():
        raise FileNotFoundError(f"exercise_notebooks: source must be a folder of exercise notebooks, {source} does not exist")
    if not Path(source).is_dir():
        raise NotADirectoryError(f"exercise_notebooks: source must be a folder of exercise notebooks, {source} is a file")
    found = []
    for path in sorted(Path(source).rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts or "_build" in path.parts:
            continue
        if any(_grading(c).get("solution") for c in _read(path).cells):
            found.append(path)
    return found


def _replace_regions(source: str, begin: str, end: str, stub: str | None) -> str:
    """``source`` with each region from a ``begin`` line to an ``end`` line replaced by ``stub``'s lines,
    indented as the ``begin`` line (or dropped when ``stub`` is None): line by line, as nbgrader does, so
    that both write the same cells."""
    kept, inside = [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
            indent = re.match(r"\s*", line).group(0)
            kept += [indent + stub_line for stub_line in stub.split("\n")] if stub is not None else []
        elif end in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def _checksum(cell) -> str:
    """nbgrader's checksum of a cell (``nbgrader.utils.compute_checksum``): autograde compares it to find
    graded and read-only cells a student changed."""
    grading = _grading(cell)
    grade, solution = bool(grading.get("grade")), bool(grading.get("solution"))
    locked = False if solution else grade or bool(grading.get("locked"))
    parts = [cell.source, cell.cell_type, str(grade), str(solution), str(locked), grading["grade_id"]]
    if grade:
        parts.append(str(float(grading["points"])))
    digest = hashlib.md5()
    for part in parts:
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()


def _lock(cell) -> None:
    """The cell metadata nbgrader's release writes (``LockCells`` and ``ComputeChecksums``): a solution cell
    cannot be deleted; a test or a read-only cell can be neither deleted nor edited."""
    grading = _grading(cell)
    if not grading:
        return
    if grading.get("solution"):
        cell.metadata["deletable"] = False
    elif grading.get("grade") or grading.get("locked"):
        cell.metadata["deletable"] = cell.metadata["editable"] = False
    grading["cell_type"] = cell.cell_type  # nbgrader records each graded cell's type, to notice a changed one
    if grading.get("grade") or grading.get("solution") or grading.get("locked"):
        grading["checksum"] = _checksum(cell)


_CLOSES = {BEGIN: END, BEGIN_HIDDEN: END_HIDDEN}
_OPENS = {END: BEGIN, END_HIDDEN: BEGIN_HIDDEN}


def _check_markers(source: str, where: str) -> None:
    """Every ``BEGIN`` marker is closed by its own ``END`` before any other marker (regions neither nest nor
    interleave), no ``END`` comes unopened and a line holds one marker at most. Markers count wherever they
    stand in a line, as the replacement (and nbgrader) finds them: a malformed pair would otherwise leave a
    solution or a hidden test in the student's version."""
    opened = None
    for number, line in enumerate(source.split("\n"), 1):
        found = [marker for marker in (BEGIN, END, BEGIN_HIDDEN, END_HIDDEN) if marker in line]
        if len(found) > 1:
            raise ValueError(f"{where}, line {number}: two markers on one line ({found[0]!r} and {found[1]!r})")
        marker = found[0] if found else None
        if marker in _CLOSES and opened == marker:
            raise ValueError(f"{where}, line {number}: a second {marker!r} before the first one's {_CLOSES[marker]!r}")
        if marker in _CLOSES and opened:
            raise ValueError(f"{where}, line {number}: {marker!r} inside the region {opened!r} opened: "
                             f"close it with {_CLOSES[opened]!r} first")
        if marker in _OPENS and opened != _OPENS[marker]:
            raise ValueError(f"{where}, line {number}: {marker!r} without a {_OPENS[marker]!r} before it"
                             + (f" (the region open is {opened!r})" if opened else ""))
        if marker:
            opened = marker if marker in _CLOSES else None
    if opened:
        raise ValueError(f"{where}: {opened!r} is never closed by {_CLOSES[opened]!r}")


def _notebook(value: object, where: str) -> nbformat.NotebookNode:
    """A notebook as ``nbformat.read`` gives it (or its dict)."""
    if not isinstance(value, dict) or not isinstance(value.get("cells"), list):
        shown = f"a dict with keys {sorted(value)[:5]}" if isinstance(value, dict) else f"{type(value).__name__} {value!r}"[:80]
        raise TypeError(f"{where}: notebook must be a Jupyter notebook (nbformat.read(path, as_version=4)), got {shown}")
    return value if isinstance(value, nbformat.NotebookNode) else nbformat.from_dict(value)


def student_version(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with every solution removed and every hidden test dropped, locked as
    nbgrader's release locks it; every code cell from the first exercise on is tagged ``raises-exception``."""
    result = nbformat.from_dict(_notebook(notebook, "student_version"))
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
        _check_markers(cell.source, where)
        if grading.get("solution"):
            if cell.cell_type == "markdown":
                cell.source = TEXT_STUB
                _lock(cell)
                continue
            if BEGIN not in cell.source or END not in cell.source:
                raise ValueError(f"solution {where} has no {BEGIN} / {END} markers")
            cell.source = _replace_regions(cell.source, BEGIN, END, CODE_STUB)
        if grading.get("grade"):
            cell.source = _replace_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, None)
        if "### BEGIN" in cell.source or "### END" in cell.source:  # a marker left: never guess what it hid
            raise ValueError(f"{where}: solution or hidden-test markers in a cell nbgrader does not grade as such "
                             "(mark it with nbgrader's 'solution' or 'grade' metadata, or remove the markers)")
        _lock(cell)
    return result


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _students_work(notebook: nbformat.NotebookNode) -> list[str]:
    """Why ``notebook`` is not an unchanged student version (empty if it is one): the cells whose nbgrader
    checksum no longer matches (a student's answers), or no checksum at all (not written by this module)."""
    checked = [cell for cell in notebook.cells if "checksum" in _grading(cell)]
    if not checked:
        return ["it is not a student version (no cell carries nbgrader's checksum)"]
    try:
        changed = [_grading(c).get("grade_id", "?") for c in checked if _checksum(c) != _grading(c)["checksum"]]
    except (KeyError, TypeError, ValueError):
        return ["its nbgrader metadata is not the one this module writes"]
    return [f"cells {changed} were changed since it was written (a student's work?)"] if changed else []


def write_student_versions(out: str | Path, source: str | Path = "solutions") -> list[Path]:
    """Write the student version of every exercise notebook under ``source`` to ``out``, keeping
    the folder structure (e.g. ``out/02_discrepancy/exercises.ipynb``). Returns the written paths.

    Refuses, before writing anything, to write into ``source`` itself, over a notebook that holds
    solutions or hidden tests, or over anything but an unchanged student version (a student's answers,
    any other notebook), and when a marker of any exercise notebook is malformed (the error names the
    notebook and the cell). A student version it wrote before, untouched, is refreshed."""
    for name, value in (("out", out), ("source", source)):
        if not isinstance(value, (str, Path)):
            raise TypeError(f"write_student_versions: {name} must be a folder (a str or a Path), got {type(value).__name__}")
    source, out = Path(source), Path(out)
    if _inside(out, source):
        raise ValueError(f"the student versions would be written into {source}, the folder they are made from: "
                         "choose another output folder (e.g. student/)")
    if not source.is_dir():
        raise FileNotFoundError(f"no exercise notebooks: the source {source.resolve()} is not a folder"
                                f"{'' if source.exists() else ' (it does not exist)'}")
    notebooks = exercise_notebooks(source)
    if not notebooks:
        raise FileNotFoundError(f"no exercise notebooks (nbgrader solution cells) under {source.resolve()}")
    targets = [out / path.relative_to(source) for path in notebooks]
    for target in targets:
        if target.is_dir():
            raise FileExistsError(f"{target} is a folder; it will not be replaced by a student version")
        if not target.exists():
            continue
        existing = _read(target)
        if holds_solutions(existing):
            raise FileExistsError(f"{target} holds solutions (### BEGIN SOLUTION or hidden tests); "
                                  "it will not be overwritten by a student version")
        why = _students_work(existing)
        if why:
            raise FileExistsError(f"{target} is not the unchanged student version this command wrote: {why[0]}; "
                                  "it will not be overwritten (move it away, or write the student versions elsewhere)")
    versions = []
    for path in notebooks:
        try:
            versions.append(student_version(_read(path)))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    for version, target in zip(versions, targets):
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(version, target)
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
