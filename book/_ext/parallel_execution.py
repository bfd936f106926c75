"""Sphinx extension: execute the book's outdated notebooks several at a time, before Sphinx reads them.

myst-nb executes the notebooks of a build one after another, each kernel with every core. The book's
notebooks train small networks, and a kernel gains little from a second core (on a two-core laptop,
two threads run a notebook about 1.4 times faster than one), while two kernels side by side, one thread
each, do nearly twice the work. So before Sphinx reads the pages, this extension executes every
notebook whose outputs are not yet in myst-nb's execution cache with a pool of kernels (``workers``
at a time, ``cores // workers`` math threads each), and stores each result in that cache exactly as
myst-nb does. myst-nb then reads the pages and finds every notebook there.

A notebook that fails in the pool is not cached: myst-nb executes it again on its own while reading
and reports the error as it always does (with ``--warningiserror`` the build fails). Only the
``cache`` execution mode is affected. Settings, in this order:

- the environment variable ``TLBOOK_BUILD_WORKERS`` (``1`` executes one notebook at a time with every
  core, as plain myst-nb does);
- ``execution_workers`` in ``_config.yml`` (``sphinx: config:``), an integer or ``"auto"``: as many
  workers as cores, at most four (each kernel holds its data and network in memory).

A thread count the reader sets (``OMP_NUM_THREADS``) is kept for every kernel.
"""
from __future__ import annotations

import fnmatch
import multiprocessing
import os
import time
from pathlib import Path

MAX_AUTO_WORKERS = 4


def available_cores() -> int:
    """Cores this process may run on (the affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


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


def _execute(job: tuple[str, int | None, bool, int]) -> tuple[str, str | None, float, str | None]:
    """Run in a worker process: execute one notebook in its own folder; return it as JSON, or the error."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    path, timeout, allow_errors, threads = job
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))  # the kernel inherits this process's environment
    notebook = nbformat.read(path, as_version=4)
    result = single_nb_execution(notebook, cwd=str(Path(path).parent), timeout=timeout,
                                 allow_errors=allow_errors, meta_override=True)
    if result.err is not None:
        return path, None, result.time, f"{type(result.err).__name__}: {result.err}"
    return path, nbformat.writes(notebook), result.time, None


def _excluded(path: Path, srcdir: Path, patterns: list[str]) -> bool:
    relative = path.relative_to(srcdir).as_posix()
    return any(fnmatch.fnmatch(relative, pattern) for pattern in patterns)


def _notebooks_to_execute(app, env, docnames) -> list[Path]:
    import nbformat
    from jupyter_cache import get_cache

    cache = get_cache(app.config.nb_execution_cache_path)
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
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from sphinx.util import logging

    import nbformat

    logger = logging.getLogger(__name__)
    if app.config.nb_execution_mode != "cache" or not app.config.nb_execution_cache_path:
        return
    requested = os.environ.get("TLBOOK_BUILD_WORKERS") or app.config.execution_workers
    workers, _ = workers_and_threads(requested, available_cores())
    pending = _notebooks_to_execute(app, env, docnames)
    if workers < 2 or len(pending) < 2:
        return
    # fewer notebooks than workers: fewer kernels, and the cores shared among those that run
    workers, threads = workers_and_threads(min(workers, len(pending)), available_cores())
    logger.info(f"[parallel_execution] executing {len(pending)} notebooks, {workers} at a time, "
                f"{os.environ.get('OMP_NUM_THREADS', threads)} math thread(s) per kernel")
    cache = get_cache(app.config.nb_execution_cache_path)
    jobs = [(str(path), app.config.nb_execution_timeout, app.config.nb_execution_allow_errors, threads)
            for path in pending]
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for path, text, seconds, error in pool.imap_unordered(_execute, jobs):
            name = Path(path).relative_to(app.srcdir).as_posix()
            if error is not None:  # myst-nb runs it again while reading and reports the error itself
                logger.info(f"[parallel_execution] {name} failed after {seconds:.0f} s ({error.splitlines()[0]})")
                continue
            cache.add_nb_to_project(path)
            cache.cache_notebook_bundle(CacheBundleIn(nbformat.reads(text, as_version=4), path,
                                                      data={"execution_seconds": seconds}),
                                        check_validity=False, overwrite=True)
            logger.info(f"[parallel_execution] {name} executed in {seconds:.0f} s")
    logger.info(f"[parallel_execution] {len(pending)} notebooks in {time.perf_counter() - start:.0f} s")


def setup(app):
    app.add_config_value("execution_workers", "auto", "")  # changes how, not what: no re-read
    app.connect("env-before-read-docs", _execute_in_parallel)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
