"""nbgrader settings for a course made of the book's exercise notebooks (book/instructors.md).

Copy this file into your course folder, next to ``source/``, and put each chapter's notebook from
``solutions/`` in an assignment of its own (``source/02_discrepancy/exercises.ipynb``); nbgrader reads the
file from the folder you run it in. ``tests/test_nbgrader.py`` runs the whole cycle with it.
"""
import os
from pathlib import Path

from tlbook.assignments import CODE_STUB

c = get_config()  # noqa: F821 - nbgrader defines get_config when it reads this file

# The stub that replaces a solution: the one `python -m tlbook.assignments` writes, so that your release
# and the book's exercise pages are the same notebooks.
c.ClearSolutions.code_stub = {"python": CODE_STUB}

# How long autograde lets one cell run, in seconds (nbgrader's default is 30, and a cell that runs out is
# graded as failed while autograde still exits 0). The slowest cell of the exercises takes about 17 s
# on a two-core laptop; 300 leaves room for a slow or busy grading machine.
c.Execute.timeout = 300

# The kernel that runs the submissions: Python 3 of the environment nbgrader runs in, which must have
# tlbook installed (pip install tlbook, or pip install -e . in a clone of the book).
c.Execute.kernel_name = "python3"

# Every notebook generates its data (digits, fonts, photo crops) and chapter 1 trains source models once,
# caching them under TLBOOK_DATA. One folder for the whole course: made for the first submission, read by
# every other one. One math thread per kernel, as the book's build runs them, so two grading jobs can
# share a machine's cores.
os.environ.setdefault("TLBOOK_DATA", str(Path(__file__).resolve().parent / "tlbook-data"))
os.environ.setdefault("OMP_NUM_THREADS", "1")
