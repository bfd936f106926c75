"""The book's own rules for notebooks: the same first cell, listed in the TOC, stored clean."""
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
SOLUTIONS = sorted(p for p in (ROOT / "solutions").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
NOTEBOOKS = PAGES + SOLUTIONS  # the book's pages and the instructors' exercise notebooks

FIRST_CELL = '''# Setup: install tlbook where it is missing (e.g. on Colab),
# then the versions, the device and the book's figure style.
import importlib.util, subprocess, sys
if importlib.util.find_spec("tlbook") is None:
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["git+https://github.com/tlbook/tlbook"], check=True)
import tlbook, torch
tlbook.plot.use_book_style()
print(f"tlbook {tlbook.__version__} | torch {torch.__version__}")
print(f"device: {tlbook.device()}")'''


def _toc_files() -> set[str]:
    import yaml

    files: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in {"file", "root"}:
                    files.add(str(value))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    return files


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT).with_suffix(""))


def test_the_book_has_notebooks():
    assert NOTEBOOKS, "no notebooks found under book/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_relative)
def test_notebook_starts_with_the_setup_cell(path):
    cells = nbformat.read(path, as_version=4).cells
    first_code = next(c for c in cells if c.cell_type == "code")
    assert first_code.source.strip() == FIRST_CELL, f"{_relative(path)}: the first code cell must be the shared setup cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_relative)
def test_notebook_is_stored_without_outputs(path):
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{_relative(path)} has stored outputs"


def test_every_book_page_is_in_the_toc_and_every_toc_entry_exists():
    toc = _toc_files()
    pages = {_relative(p) for p in PAGES} | {_relative(p) for p in (ROOT / "book").rglob("*.md")}
    assert pages - toc == set(), f"pages missing from _toc.yml: {sorted(pages - toc)}"
    missing = {f for f in toc if not any((ROOT / f).with_suffix(s).exists() for s in (".md", ".ipynb"))}
    assert missing == set(), f"_toc.yml lists files that do not exist: {sorted(missing)}"


def test_the_setup_cell_is_a_no_op_where_tlbook_is_installed():
    import importlib.util

    assert importlib.util.find_spec("tlbook") is not None, "tests must run with tlbook installed"


FIGSIZE = __import__("re").compile(r"figsize=\(([0-9.]+)\s*,")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_relative)
def test_figures_fit_the_books_column(path):
    """A figure wider than the column is shrunk by the browser, and its labels with it."""
    from tlbook.plot import BOOK_WIDTH

    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            for width in FIGSIZE.findall(cell.source):
                assert float(width) <= BOOK_WIDTH, f"{_relative(path)}: a figure {width} in wide (the column is {BOOK_WIDTH})"


def test_every_code_line_of_the_setup_cell_fits_the_column():
    """The rendered code column shows about 84 monospace characters before it scrolls."""
    assert max(len(line) for line in FIRST_CELL.splitlines()) <= 80
