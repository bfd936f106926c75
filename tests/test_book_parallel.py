"""The book build executes its notebooks several at a time (book/_ext/parallel_execution.py): myst-nb
then reads every page from the execution cache, and a notebook that fails still fails the build."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
from parallel_execution import workers_and_threads  # noqa: E402

JUPYTER_BOOK = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
needs_jupyter_book = pytest.mark.skipif(JUPYTER_BOOK is None, reason="jupyter-book is not installed")


def _notebook(source: str) -> dict:
    return {"cells": [{"cell_type": "markdown", "id": "t", "metadata": {}, "source": ["# A page"]},
                      {"cell_type": "code", "execution_count": None, "id": "c", "metadata": {}, "outputs": [],
                       "source": [source]}],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def _build(tmp_path: Path, sources: dict[str, str], workers: str = "2") -> subprocess.CompletedProcess:
    book = tmp_path / "book"
    book.mkdir()
    names = list(sources)
    for name, source in sources.items():
        (book / f"{name}.ipynb").write_text(json.dumps(_notebook(source)))
    chapters = "".join(f"  - file: {name}\n" for name in names[1:])
    (book / "_toc.yml").write_text(f"format: jb-book\nroot: {names[0]}\nchapters:\n{chapters}")
    (book / "_config.yml").write_text(f"""title: parallel test
only_build_toc_files: true
execute:
  execute_notebooks: cache
sphinx:
  recursive_update: true
  local_extensions:
    execution_cache: {ROOT / 'book' / '_ext'}
    parallel_execution: {ROOT / 'book' / '_ext'}
  config:
    nb_execution_raise_on_error: true
""")
    env = {**os.environ, "TLBOOK_BUILD_WORKERS": workers}
    env.pop("OMP_NUM_THREADS", None)
    return subprocess.run([JUPYTER_BOOK, "build", str(book), "-v"], env=env, capture_output=True, text=True, timeout=300)


def test_workers_and_threads_share_the_cores():
    assert workers_and_threads("auto", 2) == (2, 1)
    assert workers_and_threads("auto", 16) == (4, 4)
    assert workers_and_threads("auto", 1) == (1, 1)
    assert workers_and_threads(1, 8) == (1, 8)
    assert workers_and_threads("3", 2) == (3, 1)
    for bad in (0, -1, "many", None):
        with pytest.raises(ValueError, match="execution_workers"):
            workers_and_threads(bad, 2)


@needs_jupyter_book
def test_notebooks_run_in_separate_kernels_and_every_page_comes_from_the_cache(tmp_path):
    sources = {f"page{i}": f"import os\nprint('page{i} ran in', os.getpid(), 'with', os.environ['OMP_NUM_THREADS'], 'thread(s)')"
               for i in range(3)}
    result = _build(tmp_path, sources)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "executing 3 notebooks, 2 at a time" in log
    assert log.count("Using cached notebook") == 3, "myst-nb executed a notebook the pool had already run"
    assert "Executing notebook using" not in log
    pids = set()
    for name in sources:
        page = (tmp_path / "book" / "_build" / "html" / f"{name}.html").read_text()
        line = page.split(f"{name} ran in ")[1]
        pids.add(line.split()[0])
        assert " with 1 thread(s)" in line[:40], "each of the two kernels should get one of the cores"
    assert len(pids) == 3, "each notebook gets a kernel of its own"


@needs_jupyter_book
def test_a_notebook_that_fails_in_the_pool_still_fails_the_build_with_its_error(tmp_path):
    sources = {"good": "print('fine')", "bad": "raise ValueError('the claim of this page does not hold')"}
    result = _build(tmp_path, sources)
    log = result.stdout + result.stderr
    assert result.returncode != 0, "a failing notebook must fail the build"
    assert "bad.ipynb failed" in log and "the claim of this page does not hold" in log
