"""The book's execution cache is keyed on the package code: a change inside the package re-executes
the notebooks on the next plain `jupyter-book build` (book/_ext/execution_cache.py)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")

NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
               "source": ["import toypkg\n", "print(f'toypkg says {toypkg.answer()}')"]}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def _book(tmp_path: Path, keyed: bool) -> Path:
    book = tmp_path / ("keyed" if keyed else "plain")
    book.mkdir()
    extension = f"""  local_extensions:
    execution_cache: {ROOT / 'book' / '_ext'}
""" if keyed else ""
    (book / "_config.yml").write_text(f"""title: cache test
only_build_toc_files: true
execute:
  execute_notebooks: cache
sphinx:
  recursive_update: true
{extension}  config:
    execution_cache_packages: [toypkg]
""" if keyed else """title: cache test
only_build_toc_files: true
execute:
  execute_notebooks: cache
""")
    (book / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (book / "page.ipynb").write_text(json.dumps(NOTEBOOK))
    return book


def _build(book: Path, env: dict) -> str:
    result = subprocess.run([JUPYTER_BOOK, "build", str(book)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return (book / "_build" / "html" / "page.html").read_text()


@pytest.mark.skipif(JUPYTER_BOOK is None, reason="jupyter-book is not installed")
@pytest.mark.slow
def test_a_change_inside_the_package_re_executes_the_notebook(tmp_path):
    package = tmp_path / "lib" / "toypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("def answer():\n    return 'first'\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "lib")}
    keyed, plain = _book(tmp_path, keyed=True), _book(tmp_path, keyed=False)
    assert "toypkg says first" in _build(keyed, env)
    assert "toypkg says first" in _build(plain, env)

    (package / "__init__.py").write_text("def answer():\n    return 'second'\n")
    assert "toypkg says second" in _build(keyed, env), "the keyed cache rendered output of the old package code"
    # Without the extension the same rebuild is stale: the test can tell the two apart.
    assert "toypkg says first" in _build(plain, env)
    caches = list((keyed / "_build" / ".jupyter_cache").glob("code-*"))
    assert len(caches) == 1, f"the cache of the old code should be gone: {caches}"
