"""Sphinx extension: key the book's execution cache on the code of the packages the notebooks import.

Jupyter Book's ``execute_notebooks: cache`` re-executes a notebook only when its own code cells
change. A change inside ``tlbook`` leaves every notebook's cells as they were, so a rebuild would
render numbers the package no longer produces. This extension hashes the source files of the
packages named in ``execution_cache_packages`` (default: ``tlbook``) and points myst-nb's
execution cache at a folder named after that hash: new code, new (empty) cache, and since the
cache path is an environment setting, Sphinx re-reads every page and every notebook runs again.
Caches of earlier code are deleted.
"""
from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

PREFIX = "code-"


def package_hash(names: list[str]) -> str:
    """SHA-256 over the relative paths and contents of every file of the named packages (no import)."""
    digest = hashlib.sha256()
    for name in sorted(names):
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"execution_cache: package {name!r} is not installed; `pip install -r requirements.txt` first")
        for root in map(Path, spec.submodule_search_locations):
            for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"):
                digest.update(f"{name}/{path.relative_to(root).as_posix()}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _key_the_cache(app, config) -> None:
    base = Path(config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache").resolve()
    current = base / f"{PREFIX}{package_hash(list(config.execution_cache_packages))}"
    if base.is_dir():
        for stale in base.glob(f"{PREFIX}*"):
            if stale != current and stale.is_dir():
                shutil.rmtree(stale)  # executed with code that no longer exists
    config.nb_execution_cache_path = str(current)


def setup(app):
    app.add_config_value("execution_cache_packages", ["tlbook"], "env")
    app.connect("config-inited", _key_the_cache, priority=900)  # after Jupyter Book has set its own values
    return {"parallel_read_safe": True, "parallel_write_safe": True}
