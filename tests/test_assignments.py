"""The exercise notebooks and their student versions (python -m tlbook.assignments)."""
import ast
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tlbook.assignments import BEGIN, END, MAY_STOP, _grading, exercise_notebooks, student_version, write_student_versions

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
SOLUTIONS = ROOT / "solutions"
EXERCISES = exercise_notebooks(SOLUTIONS)


def _solution_lines(notebook):
    """The non-trivial lines inside every solution region, and every written model answer."""
    lines = set()
    for cell in notebook.cells:
        if not _grading(cell).get("solution"):
            continue
        if cell.cell_type == "markdown":
            lines.add(cell.source.strip())
            continue
        for region in re.findall(rf"{BEGIN}(.*?){END}", cell.source, re.S):
            lines |= {line.strip() for line in region.splitlines() if len(line.strip()) > 12}
    return lines


def test_every_chapter_has_at_least_three_exercises():
    chapters = Counter()
    for path in EXERCISES:
        notebook = nbformat.read(path, as_version=4)
        chapters[path.parent.name] += sum(1 for c in notebook.cells if _grading(c).get("solution"))
    expected = {p.name for p in BOOK.iterdir() if p.is_dir() and p.name[:2].isdigit() and p.name != "06_benchmark"}
    assert set(chapters) == expected, f"chapters without an exercise notebook: {sorted(expected - set(chapters))}"
    assert all(count >= 3 for count in chapters.values()), chapters


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_every_exercise_is_followed_by_a_graded_cell_and_ids_are_unique(path):
    cells = nbformat.read(path, as_version=4).cells
    ids = [_grading(c)["grade_id"] for c in cells if _grading(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade ids: {ids}"
    for i, cell in enumerate(cells):
        if _grading(cell).get("solution") and cell.cell_type == "code" and not _grading(cell).get("grade"):
            later = [c for c in cells[i + 1 :] if _grading(c).get("grade")]
            assert later, f"solution cell {_grading(cell)['grade_id']} has no graded cell after it"


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_student_version_has_no_solution_and_no_hidden_test(path):
    instructor = nbformat.read(path, as_version=4)
    student = student_version(instructor)
    text = "\n".join(c.source for c in student.cells)
    assert BEGIN not in text and "BEGIN HIDDEN TESTS" not in text
    leaked = [line for line in _solution_lines(instructor) if line in text]
    assert not leaked, f"solution code left in the student version: {leaked[:3]}"
    assert text.count("raise NotImplementedError(") == sum(
        1 for c in instructor.cells if _grading(c).get("solution") and c.cell_type == "code" for _ in re.findall(BEGIN, c.source))
    assert all(c.source == "YOUR ANSWER HERE" for c in student.cells if c.cell_type == "markdown" and _grading(c).get("solution"))
    assert len(student.cells) == len(instructor.cells)


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_student_version_runs_until_the_first_exercise_and_stops_there(path, tmp_path):
    """A solution cell that defines a function runs; the test cell after it stops with the checker's
    "not implemented yet" message. A solution cell that computes something stops itself."""
    student = student_version(nbformat.read(path, as_version=4))
    for cell in student.cells:  # Jupyter ignores the build's tag: run the notebook as a student does
        cell.metadata.pop("tags", None)
    first = next(i for i, c in enumerate(student.cells) if c.cell_type == "code" and _grading(c).get("solution"))
    first_test = next(i for i, c in enumerate(student.cells) if i > first and _grading(c).get("grade"))
    client = NotebookClient(student, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError) as failure:
        client.execute()
    message = str(failure.value)
    assert "not solved yet: replace these two lines" in message, message
    ran = [i for i, c in enumerate(student.cells) if c.cell_type == "code" and c.get("execution_count")]
    assert ran and first <= max(ran) <= first_test, f"execution should stop between cells {first} and {first_test}, stopped at {max(ran)}"
    definitions = (ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
    if all(isinstance(node, definitions) for node in ast.parse(student.cells[first].source).body):
        # a cell that only defines must run, so that the test names the unsolved exercise (not a NameError)
        assert max(ran) == first_test, f"the defining cell {first} stopped itself: {message[-300:]}"
    errors = [o for c in student.cells[: max(ran)] if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, "the cells before the stop must run cleanly"


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_the_build_may_stop_from_the_first_exercise_on_and_nowhere_before(path):
    """The book executes the student pages: every code cell from the first exercise on carries the
    tag that lets it raise (the "not solved yet" message shows on the page); the cells before it run
    clean under nbval, which executes the book's pages."""
    student = student_version(nbformat.read(path, as_version=4))
    code = [c for c in student.cells if c.cell_type == "code"]
    first = next(i for i, c in enumerate(code) if _grading(c).get("solution"))
    tagged = [MAY_STOP in c.metadata.get("tags", []) for c in code]
    assert tagged == [False] * first + [True] * (len(code) - first)


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_the_book_publishes_the_current_student_version(path):
    page = BOOK / path.relative_to(SOLUTIONS)
    assert page.exists(), f"{page} is missing: run `python -m tlbook.assignments book`"
    assert page.read_text() == nbformat.writes(student_version(nbformat.read(path, as_version=4))) + "\n", (
        f"{page} is not the student version of {path.relative_to(ROOT)}: run `python -m tlbook.assignments book`")


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_no_chapter_page_hands_out_an_exercise_solution():
    """An exercise asks for something its chapter does not show (a variant, a generalisation, an analysis):
    no solution, whitespace aside, lies on a chapter page whole, nor every one of its substantial lines."""
    pages = {page: _squeezed("\n".join(cell.source for cell in nbformat.read(page, as_version=4).cells))
             for page in BOOK.rglob("*.ipynb") if page.name != "exercises.ipynb" and "_build" not in page.parts}
    for path in EXERCISES:
        for cell in nbformat.read(path, as_version=4).cells:
            for region in re.findall(rf"{BEGIN}(.*?){END}", cell.source, re.S):
                lines = [_squeezed(line) for line in region.splitlines() if len(line.strip()) > 12 and not line.strip().startswith("#")]
                for page, text in pages.items():
                    copied = _squeezed(region) in text or (lines and all(line in text for line in lines))
                    assert not copied, f"{page.relative_to(BOOK)} shows the solution of {_grading(cell)['grade_id']} ({path.parent.name})"


def test_no_page_of_the_book_holds_a_solution():
    for page in BOOK.rglob("*.ipynb"):
        text = page.read_text()
        assert BEGIN not in text and "BEGIN HIDDEN TESTS" not in text, f"{page.relative_to(ROOT)} shows solutions"


def test_the_command_writes_every_student_notebook(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tlbook.assignments", str(tmp_path / "student"), "--source", str(SOLUTIONS)],
                            capture_output=True, text=True, check=True, cwd=ROOT)
    written = sorted(p.relative_to(tmp_path / "student") for p in (tmp_path / "student").rglob("*.ipynb"))
    assert written == sorted(p.relative_to(SOLUTIONS) for p in EXERCISES)
    assert f"{len(EXERCISES)} student notebooks written" in result.stdout


def test_clear_errors_for_a_book_without_exercises_and_a_solution_without_markers(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no exercise notebooks"):
        write_student_versions(tmp_path / "out", tmp_path / "empty")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"solution": True, "grade_id": "ex"}})]
    with pytest.raises(ValueError, match="no ### BEGIN SOLUTION"):
        student_version(notebook)


SOLVED = "def f():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION\n"
HIDDEN_TEST = "assert f() is not None\n### BEGIN HIDDEN TESTS\nassert f() == 42\n### END HIDDEN TESTS\n"


@pytest.mark.parametrize("source, grading, message", [
    (SOLVED.replace("    ### BEGIN SOLUTION\n", "    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n"), "solution",
     "a second '### BEGIN SOLUTION'"),
    ("def f():\n    ### END SOLUTION\n    return 42\n    ### BEGIN SOLUTION\n", "solution", "without a"),
    (SOLVED.replace("    ### END SOLUTION\n", ""), "solution", "never closed"),
    (HIDDEN_TEST.replace("### END HIDDEN TESTS\n", ""), "grade", "never closed"),
    (HIDDEN_TEST, None, "markers in a cell nbgrader does not grade"),  # hidden tests in an ungraded cell
])
def test_malformed_markers_are_refused_and_never_copied(source, grading, message):
    """Unbalanced or misplaced markers stop the writer: before, such a cell reached the student with its
    solution or its hidden test in it."""
    metadata = {"nbgrader": {grading: True, "grade_id": "ex1", "points": 1}} if grading else {}
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source, metadata=metadata)]
    with pytest.raises(ValueError, match=re.escape(message) if "'" in message else message):
        student_version(notebook)


def _copy_of_the_solutions(tmp_path: Path) -> Path:
    source = tmp_path / "solutions"
    for path in EXERCISES[:2]:
        target = source / path.relative_to(SOLUTIONS)
        target.parent.mkdir(parents=True)
        target.write_bytes(path.read_bytes())
    return source


def _snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("out", [".", "sub", "00_introduction"])
def test_the_command_never_writes_into_the_folder_it_reads(tmp_path, out):
    source = _copy_of_the_solutions(tmp_path)
    before = _snapshot(source)
    result = subprocess.run([sys.executable, "-m", "tlbook.assignments", str(source / out), "--source", str(source)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "the folder they are made from" in result.stderr, result.stderr
    assert _snapshot(source) == before, "the instructors' notebooks were changed"


def test_the_command_never_overwrites_a_notebook_that_holds_solutions(tmp_path):
    source = _copy_of_the_solutions(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(source, elsewhere)  # e.g. a second copy of the instructors' notebooks
    before = _snapshot(elsewhere)
    result = subprocess.run([sys.executable, "-m", "tlbook.assignments", str(elsewhere), "--source", str(source)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "holds solutions" in result.stderr and "exercises.ipynb" in result.stderr
    assert _snapshot(elsewhere) == before, "nothing may be written when one target holds solutions"


def test_the_command_refreshes_student_versions_in_place(tmp_path):
    source = _copy_of_the_solutions(tmp_path)
    first = write_student_versions(tmp_path / "student", source)
    again = write_student_versions(tmp_path / "student", source)  # student versions may be overwritten
    assert first == again and all(p.exists() for p in again)


@pytest.mark.parametrize("content", ["not json at all", "{}", '{"cells": 3}'])
def test_a_broken_notebook_in_the_source_is_named(tmp_path, content):
    source = _copy_of_the_solutions(tmp_path)
    broken = source / "01_finetuning" / "notes.ipynb"
    broken.parent.mkdir(exist_ok=True)
    broken.write_text(content)
    with pytest.raises(ValueError, match="notes.ipynb is not a readable Jupyter notebook"):
        write_student_versions(tmp_path / "student", source)
