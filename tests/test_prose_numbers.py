"""Numbers in the prose come from the runs (myst-nb's glue) or are reviewed as not being results.

The scanner lists every number a page's Markdown types (outside math, code, roles and links) that
looks like a result: a decimal, a percentage or "N points". Each one must be on the reviewed list in
``typed_numbers.txt`` with the reason it is typed (a published figure, a hyperparameter, chance, ...);
a new typed number fails here until it is glued from the results or reviewed and listed.
"""
import re
from collections import Counter
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
REVIEWED = Path(__file__).with_name("typed_numbers.txt")
NUMBER = re.compile(r"(?<![\w.{$-])[+−-]?\d+(?:\.\d+)?\s?(?:%|points?\b)|(?<![\w.{$])\d+\.\d+(?![\w.])")
HIDDEN = [re.compile(r"```.*?```|\$\$.*?\$\$", re.S),  # code blocks and display math
          re.compile(r"\$[^$\n]+\$|\{[\w:]+\}`[^`]*`|`[^`\n]+`|\]\([^)]*\)"),  # math, roles, code, link targets
          re.compile(r"^#+ Exercise .*$", re.M)]  # an exercise's marks


def typed_numbers(text: str) -> list[str]:
    for pattern in HIDDEN:
        text = pattern.sub(" ", text)
    return [n.replace(" ", "") for n in NUMBER.findall(text)]


def _pages() -> Counter:
    found: Counter = Counter()
    for path in sorted((ROOT / "book").rglob("*")):
        if path.suffix == ".md":
            texts = [path.read_text()]
        elif path.suffix == ".ipynb":
            texts = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
        else:
            continue
        page = path.relative_to(ROOT / "book").as_posix()
        for text in texts:
            found.update((page, n) for n in typed_numbers(text))
    return found


def _reviewed() -> Counter:
    listed: Counter = Counter()
    for line in REVIEWED.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            page, number, why = (field.strip() for field in line.split("|"))
            assert why, f"typed_numbers.txt: {page} {number} needs the reason it is typed"
            listed[page, number] += 1
    return listed


def test_the_scanner_sees_results_and_skips_math_code_and_glue():
    assert typed_numbers("gains 13.3 points, closing 26% of the gap") == ["13.3points", "26%"]
    assert typed_numbers("$\\lambda = 0.25$ and `lr=0.5` and {glue:text}`gain:.1f` points, [x](a1.2)") == []
    assert typed_numbers("## Exercise 2 — CORAL (3 points)") == []


def test_every_typed_number_in_the_prose_is_reviewed():
    typed, reviewed = _pages(), _reviewed()
    new = sorted((typed - reviewed).elements())
    assert not new, ("numbers typed in the prose: glue them from the results ({glue:text}), or add them to "
                     f"tests/typed_numbers.txt with the reason they are not results: {new}")
    stale = sorted((reviewed - typed).elements())
    assert not stale, f"tests/typed_numbers.txt lists numbers no page types any more: {stale}"
