"""Sphinx extension: execute the book's outdated notebooks several at a time, before Sphinx reads them.

myst-nb executes the notebooks of a build one after another, each kernel with every core. The book's
notebooks train small networks, and a kernel gains little from a second core (on a two-core laptop,
two threads run a notebook about 1.4 times faster than one), while two kernels side by side, one thread
each, do nearly twice the work. So before Sphinx reads the pages, this extension executes every
notebook whose outputs are not yet in myst-nb's execution cache with a pool of kernels (``workers``
at a time, ``cores // workers`` math threads each), and stores each result in that cache exactly as
myst-nb does. myst-nb then reads the pages and finds every notebook there. Only the ``cache``
execution mode is affected.

Each notebook runs in a fresh (spawned) worker process, like myst-nb: in a temporary folder when
``execute: run_in_temp`` (``nb_execution_in_temp``) is set, else in the notebook's own folder, with the
per-cell limit ``execute: timeout`` (``nb_execution_timeout``) passed to nbclient.

A build fails honestly: a notebook that fails in the pool (a cell raises, a cell exceeds the timeout,
its kernel dies, or its worker process dies, e.g. at the hands of the out-of-memory killer) fails the
build with a Sphinx ``ExtensionError`` that names the notebook and ends with its error. The other
notebooks of the pool run to the end first and are cached, so the next build executes only what
failed. A failed notebook is not handed back to myst-nb: it is never executed a second time, with
other threads, where it might pass.

Settings, in this order:

- the environment variable ``TLBOOK_BUILD_WORKERS`` (``1`` executes one notebook at a time with every
  core, as plain myst-nb does, and leaves its errors to myst-nb);
- ``execution_workers`` in ``_config.yml`` (``sphinx: config:``), an integer or ``"auto"``: as many
  workers as cores, at most four (each kernel holds its data and network in memory). Cores are those
  the process may run on and the container's CPU quota (cgroup v2 or v1) grants.

A thread count the reader sets (``OMP_NUM_THREADS``) is kept for every kernel.

The longest notebooks start first (``longest_first``), by the seconds each took in an earlier build,
listed in ``execution_seconds.json`` next to this file (``python .ci/notebook_times.py _build/.jupyter_cache
--save book/_ext/execution_seconds.json`` writes it). Started in reading order, a long notebook of the
last chapter ran alone at the end while the other kernels had finished; started longest first, the
kernels finish nearly together. A notebook the file does not list counts as the longest. The file only
orders the work: a stale one makes the build slower, never wrong.

The extension calls jupyter-cache functions that myst-nb itself uses (``get_cache``, ``CacheBundleIn``,
``single_nb_execution``), which are not a stable API: requirements.txt pins the versions tested.
"""
from __future__ import annotations

import fnmatch
import json
import math
import multiprocessing
import os
import re
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from pathlib import Path
from typing import NamedTuple

from sphinx.errors import ExtensionError

MAX_AUTO_WORKERS = 4
CGROUP_ROOT = Path("/sys/fs/cgroup")
TESTED = "myst-nb 1.4 with jupyter-cache 1.0"
ERROR_LINES = 30  # the tail of a notebook's error shown in the build error
EXECUTION_SECONDS = Path(__file__).with_name("execution_seconds.json")  # seconds per notebook, an earlier build


def _internals():
    """jupyter-cache's ``get_cache``, ``CacheBundleIn`` and ``single_nb_execution``, as myst-nb uses them."""
    try:
        from jupyter_cache import get_cache
        from jupyter_cache.base import CacheBundleIn
        from jupyter_cache.executors.utils import single_nb_execution
    except ImportError as error:
        raise ExtensionError(f"parallel_execution: this jupyter-cache lacks the internals the extension calls "
                             f"({error}); it was tested with {TESTED}: `pip install -r requirements.txt`") from error
    return get_cache, CacheBundleIn, single_nb_execution


def cgroup_cores(root: Path = CGROUP_ROOT) -> int | None:
    """Cores the container's CPU quota grants, rounded up (cgroup v2 ``cpu.max``, else v1 ``cpu.cfs_*_us``);
    None without a quota."""
    v1 = next((root / name for name in ("cpu", "cpu,cpuacct", ".") if (root / name / "cpu.cfs_quota_us").is_file()),
              None)
    try:
        if (root / "cpu.max").is_file():
            quota, period = (root / "cpu.max").read_text().split()[:2]
        elif v1 is not None:
            quota, period = ((v1 / f"cpu.cfs_{kind}_us").read_text().strip() for kind in ("quota", "period"))
        else:
            return None
        if quota == "max" or int(quota) <= 0:  # v1 writes -1 for no quota
            return None
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError, ZeroDivisionError):
        return None


def available_cores(cgroup_root: Path = CGROUP_ROOT) -> int:
    """Cores this process may use: its affinity mask, capped by the container's CPU quota; at least one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, cgroup_cores(cgroup_root) or cores))


def workers_and_threads(requested: int | str, cores: int) -> tuple[int, int]:
    """How many kernels run at once, and how many math threads each gets."""
    if requested == "auto":
        workers = min(cores, MAX_AUTO_WORKERS)
    else:
        try:
            workers = int(requested)
        except (TypeError, ValueError):
            raise ValueError(f"execution_workers must be 'auto' or a positive integer, got {requested!r}") from None
        if workers < 1:
            raise ValueError(f"execution_workers must be 'auto' or a positive integer, got {requested!r}")
    return workers, max(1, cores // workers)


class Job(NamedTuple):
    """One notebook to execute, with myst-nb's execution settings."""
    path: str
    timeout: int | None
    allow_errors: bool
    threads: int
    in_temp: bool


Outcome = tuple[str | None, float, str | None]  # the executed notebook as JSON (or None), seconds, the error


def _execute(job: Job) -> Outcome:
    """Run in a worker process: execute one notebook as myst-nb would; return it as JSON, or the error."""
    import nbformat
    from nbclient.exceptions import CellTimeoutError

    _, _, single_nb_execution = _internals()
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(job.threads))  # the kernel inherits this process's environment
    notebook = nbformat.read(job.path, as_version=4)
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() if job.in_temp else nullcontext(str(Path(job.path).parent)) as cwd:
            result = single_nb_execution(notebook, cwd=os.path.abspath(cwd), timeout=job.timeout,
                                         allow_errors=job.allow_errors, meta_override=True)
    except Exception as error:  # noqa: BLE001 -- a dead kernel or one that never started: nbclient raises
        return None, time.perf_counter() - start, f"{type(error).__name__}: {error}"
    if result.err is None:
        return nbformat.writes(notebook), result.time, None
    error = f"{type(result.err).__name__}: {result.err}"
    if isinstance(result.err, CellTimeoutError):
        error += f"\n(per-cell timeout: {job.timeout} s, `execute: timeout` in _config.yml)"
    return None, result.time, error


def _execute_alone(job: Job) -> Outcome:
    """Execute one job in a spawned process of its own: a worker that dies is this notebook's error, not a hang."""
    start = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as process:
        try:
            return process.submit(_execute, job).result()
        except BrokenProcessPool:
            return None, time.perf_counter() - start, ("the worker process executing it died (killed by a signal, "
                                                       "perhaps by the out-of-memory killer)")


def run_jobs(jobs: list[Job], workers: int) -> Iterator[tuple[Job, str | None, float, str | None]]:
    """Execute the jobs, ``workers`` at a time; yield each with its outcome as it finishes."""
    with ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(_execute_alone, job): job for job in jobs}
        for future in as_completed(futures):
            yield futures[future], *future.result()


def readable(error: str, lines: int = ERROR_LINES) -> str:
    """The error without terminal colours, its last ``lines`` lines (where the traceback ends)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", error).strip().splitlines()
    return "\n".join((["..."] if len(text) > lines else []) + text[-lines:])


def expected_seconds(path: Path = EXECUTION_SECONDS) -> dict[str, float]:
    """Seconds each notebook took in an earlier build, by its path without suffix (``book/03_adversarial/sdt``);
    empty when the file is missing or unreadable (the order is then the reading order)."""
    try:
        seconds = json.loads(path.read_text())
        return {str(name): float(value) for name, value in seconds.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def longest_first(paths: list[Path], srcdir: Path, seconds: dict[str, float]) -> list[Path]:
    """The notebooks, longest expected first; those ``seconds`` does not list first of all, in the given order.

    Each free kernel takes the next notebook, so the kernels end apart by at most the time of the last
    notebook started: started longest first, that is one of the shortest (Graham's longest-processing-time
    rule, 1969)."""
    def key(path: Path) -> float:
        return -seconds.get(path.relative_to(srcdir).with_suffix("").as_posix(), math.inf)

    return sorted(paths, key=key)  # stable: ties keep the given order


def _excluded(path: Path, srcdir: Path, patterns: list[str]) -> bool:
    relative = path.relative_to(srcdir).as_posix()
    return any(fnmatch.fnmatch(relative, pattern) for pattern in patterns)


def _notebooks_to_execute(app, env, docnames) -> list[Path]:
    """The notebooks among ``docnames`` that myst-nb would execute: cache mode, not excluded, not cached."""
    import nbformat

    cache = _internals()[0](app.config.nb_execution_cache_path)
    srcdir = Path(app.srcdir)
    pending = []
    for docname in sorted(docnames):
        path = Path(env.doc2path(docname))
        if path.suffix != ".ipynb" or _excluded(path, srcdir, list(app.config.nb_execution_excludepatterns)):
            continue
        notebook = nbformat.read(path, as_version=4)
        if notebook.metadata.get("mystnb", {}).get("execution_mode", "cache") != "cache":
            continue
        try:
            cache.match_cache_notebook(notebook)
        except KeyError:
            pending.append(path)
    return pending


def _execute_in_parallel(app, env, docnames) -> None:
    """Execute and cache the pending notebooks; raise ``ExtensionError`` naming every one that failed."""
    import nbformat
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    config = app.config
    if config.nb_execution_mode != "cache" or not config.nb_execution_cache_path:
        return
    requested = os.environ.get("TLBOOK_BUILD_WORKERS") or config.execution_workers
    workers, _ = workers_and_threads(requested, available_cores())
    pending = _notebooks_to_execute(app, env, docnames)
    if workers < 2 or not pending:
        return
    # fewer notebooks than workers: fewer kernels, and the cores shared among those that run
    workers, threads = workers_and_threads(min(workers, len(pending)), available_cores())
    logger.info(f"[parallel_execution] executing {len(pending)} notebooks, {workers} at a time, "
                f"{os.environ.get('OMP_NUM_THREADS', threads)} math thread(s) per kernel")
    get_cache, CacheBundleIn, _ = _internals()
    cache = get_cache(config.nb_execution_cache_path)
    jobs = [Job(str(path), config.nb_execution_timeout, config.nb_execution_allow_errors, threads,
                bool(config.nb_execution_in_temp)) for path in longest_first(pending, Path(app.srcdir), expected_seconds())]
    failures, start = [], time.perf_counter()
    for job, text, seconds, error in run_jobs(jobs, workers):
        name = Path(job.path).relative_to(app.srcdir).as_posix()
        if error is not None:
            logger.info(f"[parallel_execution] {name} failed after {seconds:.0f} s ({readable(error, 1)})")
            failures.append(f"{name} failed after {seconds:.0f} s:\n{readable(error)}")
            continue
        cache.add_nb_to_project(job.path)
        cache.cache_notebook_bundle(CacheBundleIn(nbformat.reads(text, as_version=4), job.path,
                                                  data={"execution_seconds": seconds}),
                                    check_validity=False, overwrite=True)
        logger.info(f"[parallel_execution] {name} executed in {seconds:.0f} s")
    logger.info(f"[parallel_execution] {len(pending)} notebooks in {time.perf_counter() - start:.0f} s")
    if failures:
        raise ExtensionError(f"{len(failures)} of {len(jobs)} notebooks failed in the execution pool (the others are "
                             f"cached; none is executed again):\n\n" + "\n\n".join(failures))


def setup(app):
    _internals()  # fail at once, with the versions tested, if jupyter-cache has moved its functions
    app.add_config_value("execution_workers", "auto", "")  # changes how, not what: no re-read
    app.connect("env-before-read-docs", _execute_in_parallel)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
