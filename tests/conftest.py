"""Shared fixtures of the unit tests."""
import pytest


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A private, empty data cache for tests that inspect caching."""
    monkeypatch.setenv("TLBOOK_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"
