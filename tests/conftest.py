"""Shared fixtures. Unit tests run on the CPU with few threads so two workers share the machine."""
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A private, empty data cache for tests that inspect caching."""
    monkeypatch.setenv("TLBOOK_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"
