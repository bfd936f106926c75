"""Root conftest: applies to the unit tests and to the notebooks that nbval runs.

The README's test command and its build command execute the notebooks at the two ends of the
thread range, so that a claim which holds only at one thread count fails one of them:

- the build (book/_ext/parallel_execution.py) runs several kernels at once, one math thread each on
  a two-core machine;
- the tests run every notebook in one pytest-xdist worker, one after another, each kernel with the
  reader's default threads (every core, as in Jupyter or on Colab). The unit tests (one math thread
  per worker) come first, in collection order (``--no-loadscope-reorder``): a kernel with every core
  next to a busy unit-test worker would fight it for the cores and run several times slower.
"""
import os

import pytest

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
READERS_THREADS = {name: os.environ.get(name) for name in THREAD_VARIABLES}  # as the reader set them, or unset

if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    for _name in THREAD_VARIABLES:  # unit tests in parallel workers: one math thread each
        os.environ.setdefault(_name, "1")


def _is_notebook(item: pytest.Item) -> bool:
    return item.path.suffix == ".ipynb"


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: unknown, and unused, without it
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's load-scope scheduling (each test module to one worker), with every notebook in one
    scope: one worker runs the notebooks, each cell after the one before it, in collection order."""
    from xdist.scheduler import LoadScopeScheduling

    class NotebooksInOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "notebooks" if ".ipynb::" in nodeid else super()._split_scope(nodeid)

    return NotebooksInOneWorker(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if _is_notebook(item):  # nbval starts the notebook's kernel in this setup; it inherits this environment
        for name, value in READERS_THREADS.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
