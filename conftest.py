"""Root conftest: applies to the unit tests and to the notebooks that nbval runs.

``pytest`` (the README's test command) runs two pytest-xdist workers, one per core of the machine it
was tuned on. Each test module and each notebook is one unit of work (``--dist loadscope``); a worker
takes the next one when it is free, in collection order (``--no-loadscope-reorder``): the unit tests
first, then the notebooks, two side by side. Every process gets one math thread, notebook kernels
included, as in the build (``book/_ext/parallel_execution.py``): two one-thread kernels side by side are
nearly twice as fast as one kernel with two threads, and two two-thread kernels would fight for the cores.

``pytest -n 0`` runs everything in one process, each notebook kernel with the reader's default threads
(every core, as in Jupyter or on Colab): the claims hold there too (``tlbook.claims``).
"""
import os

import pytest

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
READERS_THREADS = {name: os.environ.get(name) for name in THREAD_VARIABLES}  # as the reader set them, or unset
PARALLEL = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1

if PARALLEL:
    for _name in THREAD_VARIABLES:  # workers side by side: one math thread each, in every kernel they start
        os.environ[_name] = "1"


def _is_notebook(item: pytest.Item) -> bool:
    return item.path.suffix == ".ipynb"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if _is_notebook(item) and not PARALLEL:  # nbval starts the kernel in this setup; it inherits this environment
        for name, value in READERS_THREADS.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
