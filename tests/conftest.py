"""Shared fixtures of the unit tests, and one thread per test worker."""
import os

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist runs two workers on the two cores; with PyTorch's default of one thread per core,
    # four busy-waiting threads fight over two cores and small models slow down many times over.
    # One thread per worker (the root conftest gives the notebook kernels one thread too).
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A private, empty data cache for tests that inspect caching."""
    monkeypatch.setenv("TLBOOK_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"
