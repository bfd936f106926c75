"""Sphinx extension: warn when the stored results the book reads were made by other code than the current one.

Many pages read stored runs (``tlbook/benchmark/results/*.csv``), which the build never re-trains and the
execution cache (``execution_cache.py``) never regenerates. Each file's provenance records the digest of
the training code that made it (``tlbook.benchmark.provenance``); at build start this extension compares it
with the current code's and logs one warning per stale file, naming it and the command that refreshes it
(under ``--warningiserror``, as in CI, a stale file fails the build).
"""
from __future__ import annotations

from sphinx.util import logging

logger = logging.getLogger(__name__)


def warn_stale_results(app) -> list[str]:
    """Log (and return) a warning for each stored results file that the current code did not make."""
    from tlbook.benchmark.provenance import stale_results

    messages = stale_results()
    for message in messages:
        logger.warning(message, type="tlbook", subtype="stored_results")
    return messages


def setup(app):
    app.connect("builder-inited", warn_stale_results)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
