"""Root conftest: applies to the unit tests and to the notebooks that nbval runs.

With several pytest-xdist workers, each notebook kernel gets one math thread:
two kernels with two threads each on a two-core machine fight over the cores
and run many times slower than one after the other.
"""
import os

if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
