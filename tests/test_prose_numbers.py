"""Numbers in the prose come from the runs (myst-nb's glue) or are reviewed as not being results.

The scanner lists every number a page's Markdown types (outside math, code, roles, link targets and
exercise headers) that looks like a result. It catches:

- a decimal: ``0.25``, ``.798``, ``13.3``;
- a number with thousands commas, or with a ``k``: ``2,000``, ``76k``;
- a range, with an en dash or a hyphen: ``47.7–56.2``, ``2,000-2,800``, ``800–1,400``;
- a numeral or number word followed by a unit or a quantity: ``26%``, ``26 percent``,
  ``13.3 points``, ``about ten points``, ``13 minutes``, ``25–80 s``, ``500 steps``, ``three times``,
  ``over ten times chance``, ``2× chance``;
- a ratio: ``46 of 60``, ``two of five``, ``1/6``;
- a fraction or a multiple in words: ``a third (of the gap)``, ``half the gap``, ``half a point``,
  ``twice chance``;
- a numeral or number word after a hedge or a statistic: ``about 5,000``, ``up to five``,
  ``nearly one``, ``median 1,000``.

A plain integer or number word with none of these around it is not a quantity and is not reported
("Chapter 3", "Exercise 2", "(Ganin et al., 2016)", "ten classes", "five seeds", list numbering), and
neither is a range of labels ("digits 0–4", "chapters 2–4"). Each hit is written canonically, from the
hedge to the unit: whitespace as single spaces, none before "%" or "×" nor around a range's dash or a
"/" ("26%", "2,000–2,800", "1/6"), "percent" as "%" and a range's hyphen as "–" ("13.3 points",
"about ten points", "46 of 60").

Each one must be on the reviewed list in ``typed_numbers.txt`` with the reason it is typed (a
published figure, a hyperparameter, chance, ...); a new typed number fails here until it is glued from
the results or reviewed and listed.
"""
import re
from collections import Counter
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
REVIEWED = Path(__file__).with_name("typed_numbers.txt")
NUMERAL = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?k?|\.\d+"
WORD = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
        r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|(?:a\s+)?hundred|"
        r"(?:a\s+)?thousand|(?:a\s+)?dozen")
HEDGE = r"about|around|roughly|nearly|almost|approximately|up\s+to|more\s+than|less\s+than|fewer\s+than|median|mean"
UNIT = (r"\s*(?:%|×(?!\s*\d)(?:\s*chance\b)?)|\s+(?:per\s?cent|percentage\s+points?|points?|pts|minutes?|min"
        r"|seconds?|m?s|hours?|steps?|epochs?|times(?:\s+chance)?|chance)\b")
FRACTION = (r"(?:a|one|two|three)\s+(?:half|thirds?|quarters?|fifths?|tenths?)(?!\s+(?!of\b)[a-z])|twice|thrice"
            rf"|(?<!the\s)(?<!other\s)(?<!which\s)half(?:\s+an?(?={UNIT})|(?=\s+(?:the|of|as)\b|\s*[.,;:)]))")
CANDIDATE = re.compile(rf"""(?<![\w.,{{$-])(?:(?P<hedge>{HEDGE})\s+)?
    (?P<number>(?P<fraction>{FRACTION})                           # a third, half the, twice
      | [+−-]?(?:{NUMERAL})(?:\s*[–-]\s*(?:{NUMERAL}))?            # 13.3, 2,000, 76k, 800–1,400
      | (?:{WORD})(?:(?:\s*–\s*|\s+(?:to|or)\s+)(?:{WORD}))?       # ten, two to three
    )(?![\w-]|\.\d)
    (?:(?P<unit>{UNIT}) | (?P<ratio>(?:\s+(?:out\s+)?of\s+|/)(?:{NUMERAL}|{WORD})(?![\w-])))?""", re.X | re.I)
LABEL = re.compile(r"\b(?:chapters?|sections?|exercises?|digits|classes|tasks?|seeds?|steps?|layers?)\s*$", re.I)


def _is_result(match: re.Match, before: str) -> bool:
    """A unit, a ratio, a hedge, a fraction, a decimal, thousands; or a range that is not of labels."""
    if match["unit"] or match["ratio"] or match["hedge"] or match["fraction"]:
        return True
    if re.search(r"\.\d|\d,\d|\dk", match["number"]):
        return True
    return bool(re.search(r"\d\s*[–-]", match["number"])) and not LABEL.search(before)


def _canonical(hit: str) -> str:
    hit = re.sub(r"\s+", " ", hit)
    hit = re.sub(r"(?i) ?per ?cent\b", "%", hit)
    hit = re.sub(r"(?<=[\d.]) ?- ?(?=[\d.])", "–", hit)  # a range's hyphen
    hit = re.sub(r" (?=[%×])", "", hit)
    return re.sub(r" ?([–/]) ?", r"\1", hit)


HIDDEN = [re.compile(r"```.*?```|\$\$.*?\$\$", re.S),  # code blocks and display math
          re.compile(r"\$[^$\n]+\$|\{[\w:]+\}`[^`]*`|`[^`\n]+`|\]\([^)]*\)"),  # math, roles, code, link targets
          re.compile(r"^#+ Exercise .*$", re.M)]  # an exercise's marks


def typed_numbers(text: str) -> list[str]:
    for pattern in HIDDEN:
        text = pattern.sub(" ", text)
    return [_canonical(m.group()) for m in CANDIDATE.finditer(text) if _is_result(m, text[max(0, m.start() - 20):m.start()])]


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
    assert typed_numbers("gains 13.3 points, closing 26% of the gap") == ["13.3 points", "26%"]
    assert typed_numbers("$\\lambda = 0.25$ and `lr=0.5` and {glue:text}`gain:.1f` points, [x](a1.2)") == []
    assert typed_numbers("## Exercise 2 — CORAL (3 points)") == []


def test_the_scanner_sees_numerals_with_units_thousands_ranges_and_ratios():
    assert typed_numbers("the 60 runs took 13 minutes there") == ["13 minutes"]
    assert typed_numbers("gains 4 points; 46 of 60 seeds; about 25-80 s each") == ["4 points", "46 of 60", "about 25–80 s"]
    assert typed_numbers("that step was 800–1,400 (median 1,000)") == ["800–1,400", "median 1,000"]
    assert typed_numbers("gives 2,000–2,800 on this network") == ["2,000–2,800"]
    assert typed_numbers("2,000-2,800 and 47.7–56.2") == ["2,000–2,800", "47.7–56.2"]
    assert typed_numbers("10,000 images, 76k parameters, .798 against 0.25.") == ["10,000", "76k", ".798", "0.25"]
    assert typed_numbers("26 percent, 2× chance, −4.5 points, chance is 1/6") == ["26%", "2× chance", "−4.5 points", "1/6"]


def test_the_scanner_sees_numbers_in_words():
    assert typed_numbers("DAN gains about ten points over source only") == ["about ten points"]
    assert typed_numbers("The oracle column is up to five\npoints above") == ["up to five points"]
    assert typed_numbers("closing a third of the gap, then half the rest") == ["a third", "half"]
    assert typed_numbers("on average half a point") == ["half a point"]
    assert typed_numbers("most unseen combinations, over ten times chance") == ["ten times chance"]
    assert typed_numbers("four came out at barely twice chance, three times") == ["twice chance", "three times"]


def test_the_scanner_skips_integers_that_are_not_quantities():
    assert typed_numbers("Chapter 3 and chapters 2–4, as in (Ganin et al., 2016)") == []
    assert typed_numbers("ten classes, two domains, five seeds, seeds 0-2, digits 0–4") == []
    assert typed_numbers("1. **Which pair?** Add 20 fonts; a 2-D shift, 3×16×16 tensors, one-hot, VGG16") == []
    assert typed_numbers("a fifth power, the other half of it, Which half matters?") == []



def test_every_typed_number_in_the_prose_is_reviewed():
    typed, reviewed = _pages(), _reviewed()
    new = sorted((typed - reviewed).elements())
    assert not new, ("numbers typed in the prose: glue them from the results ({glue:text}), or add them to "
                     f"tests/typed_numbers.txt with the reason they are not results: {new}")
    stale = sorted((reviewed - typed).elements())
    assert not stale, f"tests/typed_numbers.txt lists numbers no page types any more: {stale}"
