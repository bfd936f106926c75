"""What a student reads talks about transfer learning, not about how the book is checked.

The chapter pages' prose (Markdown cells and pages) must not mention threads, the book's build, the
machine it ran on or what was lent to it, nor call the blog post the book follows "the seed" (it is
cited like any other source: Zheng, 2020). The pages for instructors and on how claims are checked
(``instructors.md``, ``claims.md``) are about exactly that, and are left out.
"""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
FOR_INSTRUCTORS = {"instructors.md", "claims.md"}
FORBIDDEN = {
    "threads": re.compile(r"\bthreads?\b", re.I),
    "the book's build": re.compile(r"\b(?:this|the|book's|a|each|every)\s+build\b", re.I),
    "the machine it ran on": re.compile(r"\bthis\s+machine\b|\blent\b", re.I),
    "the blog post as 'the seed'": re.compile(r"\bthe\s+seed(?:'s)?\b(?!-to-seed)(?![-\s]?\d)", re.I),
}


def _prose(path: Path) -> list[str]:
    if path.suffix == ".md":
        return [path.read_text()]
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


def _pages() -> list[Path]:
    return [p for p in sorted((ROOT / "book").rglob("*")) if p.suffix in (".md", ".ipynb")
            and p.name not in FOR_INSTRUCTORS and "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts]


def offences(text: str) -> list[str]:
    """Each forbidden phrase in ``text``, named with what it talks about."""
    return [f"{what}: {m.group()!r}" for what, pattern in FORBIDDEN.items() for m in pattern.finditer(text)]


@pytest.mark.parametrize("text, found", [
    ("The stored run used two CPU threads.", True),
    ("No GPU was lent to this book's build.", True),
    ("Here is the recipe run in this build.", True),
    ("The seed's hinge asks the true class to win.", True),
    ("the seed-to-seed spread; the seed 0 network; the seed-0 run", False),
    ("Build that experiment: train a network.", False),
    ("on another machine or device the arithmetic is summed in another order", False),
])
def test_the_scanner_tells_talk_about_the_book_from_talk_about_the_method(text, found):
    assert bool(offences(text)) == found, offences(text)


def test_no_page_a_student_reads_talks_about_threads_builds_machines_or_the_seed():
    found = {p.relative_to(ROOT).as_posix(): hits for p in _pages() if (hits := [h for t in _prose(p) for h in offences(t)])}
    assert not found, f"student pages talk about how the book is made: {found}"


def test_every_chapter_page_ends_with_a_summary_and_a_pointer_to_what_next():
    pages = [p for p in _pages() if p.suffix == ".ipynb" and p.stem != "exercises"]
    lacking = {p.relative_to(ROOT).as_posix(): [what for what, mark in (("a summary", "## Summary"), ("what next", "**What next:**"))
                                               if not any(mark in text for text in _prose(p))]
               for p in pages}
    assert pages and not any(lacking.values()), f"pages without their closing aids: { {k: v for k, v in lacking.items() if v} }"
