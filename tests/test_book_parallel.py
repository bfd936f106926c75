"""The book build executes its notebooks several at a time (book/_ext/parallel_execution.py): myst-nb
then reads every page from the execution cache, and a notebook that fails in the pool (an error, a cell
over the timeout, a dead kernel or worker) fails the build, naming it, and is not executed again."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import parallel_execution  # noqa: E402
from parallel_execution import available_cores, cgroup_cores, workers_and_threads  # noqa: E402

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
@pytest.mark.slow
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
@pytest.mark.slow
def test_a_notebook_that_fails_in_the_pool_still_fails_the_build_with_its_error(tmp_path):
    sources = {"good": "print('fine')", "bad": "raise ValueError('the claim of this page does not hold')"}
    result = _build(tmp_path, sources)
    log = result.stdout + result.stderr
    assert result.returncode != 0, "a failing notebook must fail the build"
    assert "bad.ipynb failed" in log and "the claim of this page does not hold" in log
    assert "Executing notebook using" not in log, "myst-nb executed again a notebook that failed in the pool"
    message = log[log.index("1 of 2 notebooks failed in the execution pool"):]
    error = message[message.index("bad.ipynb failed after"):message.index("ValueError: the claim of this page")]
    assert "\x1b[" not in error, "the error is shown without terminal colours"
    cache = next((tmp_path / "book" / "_build" / ".jupyter_cache").glob("code-*"))
    assert _cached(str(cache), tmp_path / "book" / "good.ipynb"), "the notebook that passed is cached"
    assert not _cached(str(cache), tmp_path / "book" / "bad.ipynb")


def _pool_step(tmp_path: Path, sources: dict[str, str], timeout: int = 30, in_temp: bool = False):
    """The extension's build step on its own, with the settings Sphinx would hand it, ready to run."""
    book = tmp_path / "book"
    book.mkdir()
    for name, source in sources.items():
        (book / f"{name}.ipynb").write_text(json.dumps(_notebook(source)))
    config = SimpleNamespace(nb_execution_mode="cache", nb_execution_cache_path=str(tmp_path / "cache"),
                             execution_workers="auto", nb_execution_excludepatterns=[], nb_execution_timeout=timeout,
                             nb_execution_allow_errors=False, nb_execution_in_temp=in_temp)
    app = SimpleNamespace(config=config, srcdir=str(book))
    env = SimpleNamespace(doc2path=lambda docname: str(book / f"{docname}.ipynb"))
    return lambda: parallel_execution._execute_in_parallel(app, env, list(sources))


@pytest.fixture
def two_workers(monkeypatch):
    monkeypatch.setenv("TLBOOK_BUILD_WORKERS", "2")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def _cached(cache_path: str, notebook: Path) -> bool:
    import nbformat
    from jupyter_cache import get_cache

    try:
        get_cache(cache_path).match_cache_notebook(nbformat.read(notebook, as_version=4))
        return True
    except KeyError:
        return False


def test_cores_are_the_affinity_mask_capped_by_the_cgroup_quota(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert cgroup_cores(tmp_path) is None and available_cores(tmp_path) == 8  # no cgroup files: no quota
    v2 = tmp_path / "v2"
    v2.mkdir()
    for quota, cores in (("150000 100000", 2), ("50000 100000", 1), ("max 100000", 8), ("2000000 100000", 8)):
        (v2 / "cpu.max").write_text(quota + "\n")
        assert available_cores(v2) == cores, quota
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    for quota, cores in (("250000", 3), ("-1", 8)):
        (v1 / "cpu" / "cpu.cfs_quota_us").write_text(quota + "\n")
        assert available_cores(v1) == cores, quota


def test_missing_jupyter_cache_internals_fail_with_the_versions_tested(monkeypatch):
    monkeypatch.setitem(sys.modules, "jupyter_cache.executors.utils", None)
    with pytest.raises(ExtensionError, match=r"executors\.utils.*tested with myst-nb 1.4 with jupyter-cache 1.0"):
        parallel_execution.setup(None)


@pytest.mark.slow
def test_a_cell_over_the_timeout_fails_fast_naming_the_notebook_and_the_timeout(tmp_path, two_workers):
    run = _pool_step(tmp_path, {"slow": "import time; time.sleep(30)"}, timeout=2)
    start = time.perf_counter()
    with pytest.raises(ExtensionError, match=r"(?s)slow\.ipynb failed.*CellTimeoutError.*per-cell timeout: 2 s"):
        run()
    assert time.perf_counter() - start < 20


@pytest.mark.parametrize("victim", ["getpid", "getppid"])  # the kernel, or the worker process that runs it
@pytest.mark.slow
def test_a_killed_kernel_or_worker_is_a_build_error_not_a_hang(tmp_path, two_workers, victim):
    run = _pool_step(tmp_path, {"killed": f"import os; os.kill(os.{victim}(), 9)"})
    expected = "DeadKernelError" if victim == "getpid" else "worker process executing it died"
    with pytest.raises(ExtensionError, match=rf"(?s)killed\.ipynb failed.*{expected}"):
        run()


@pytest.mark.parametrize("in_temp", [True, False])
@pytest.mark.slow
def test_run_in_temp_keeps_the_notebook_folder_clean(tmp_path, two_workers, in_temp):
    run = _pool_step(tmp_path, {"writer": "open('written.txt', 'w').write('x')"}, in_temp=in_temp)
    run()
    assert (tmp_path / "book" / "written.txt").exists() == (not in_temp)


def test_the_longest_notebooks_start_first_and_unlisted_ones_before_them(tmp_path):
    paths = [tmp_path / "book" / f"{name}.ipynb" for name in ("short", "new", "long", "middle")]
    seconds = {"book/short": 5.0, "book/long": 90.0, "book/middle": 40.0}
    order = parallel_execution.longest_first(paths, tmp_path, seconds)
    assert [p.stem for p in order] == ["new", "long", "middle", "short"]
    assert parallel_execution.longest_first(paths, tmp_path, {}) == paths, "without times: the reading order"


def test_the_expected_times_name_the_books_notebooks_and_a_broken_file_only_loses_the_order(tmp_path):
    seconds = parallel_execution.expected_seconds()
    notebooks = {p.relative_to(ROOT).with_suffix("").as_posix() for p in (ROOT / "book").rglob("*.ipynb")
                 if ".ipynb_checkpoints" not in p.parts}
    assert set(seconds) == notebooks, ("book/_ext/execution_seconds.json lists other notebooks than the book's: "
                                       "python .ci/notebook_times.py _build/.jupyter_cache --save book/_ext/execution_seconds.json")
    assert all(value > 0 for value in seconds.values())
    (tmp_path / "broken.json").write_text("{not json")
    assert parallel_execution.expected_seconds(tmp_path / "broken.json") == {}
    assert parallel_execution.expected_seconds(tmp_path / "missing.json") == {}
