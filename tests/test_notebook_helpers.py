"""A helper lives in one place: the package, not copies in several notebooks.

A function (``def`` or ``name = lambda``) defined, nearly the same, in two of the book's notebooks, or
the same settings dict in two, is a copy that will drift; move it into ``tlbook`` (or make the two different things differently
named). Exercise notebooks are excepted: re-implementing is their point.
"""
import ast
import difflib
import itertools
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SIMILAR = 0.8  # difflib ratio of two definitions' source above which they count as one helper copied


def definitions(source: str) -> dict[str, str]:
    """Top-level functions, lambdas and ``dict(...)`` settings a piece of code defines, as ``name -> body``
    (the body's source without the name, so that a renamed copy is still a copy)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    found = {}
    for node in ast.parse("\n".join(lines)).body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = ast.unparse(ast.FunctionDef(**{**node.__dict__, "name": "_"}))
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
              and (isinstance(node.value, ast.Lambda)
                   or (isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) == "dict"))):
            found[node.targets[0].id] = ast.unparse(node.value)
    return found


def _notebook_definitions() -> dict[str, dict[str, str]]:
    pages = {}
    for path in sorted((ROOT / "book").rglob("*.ipynb")):
        if path.stem == "exercises":
            continue
        cells = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        pages[path.relative_to(ROOT).as_posix()] = {k: v for cell in cells for k, v in definitions(cell).items()}
    return pages


def copies(pages: dict[str, dict[str, str]]) -> list[str]:
    """Every pair of definitions in two notebooks that are the same (or nearly the same) helper."""
    found = []
    for (page_a, defs_a), (page_b, defs_b) in itertools.combinations(pages.items(), 2):
        for (name_a, body_a), (name_b, body_b) in itertools.product(defs_a.items(), defs_b.items()):
            settings = body_a.startswith("dict(") or body_b.startswith("dict(")  # the same values, or different ones
            if body_a == body_b if settings else difflib.SequenceMatcher(None, body_a, body_b).ratio() >= SIMILAR:
                found.append(f"{name_a} ({page_a}) ~ {name_b} ({page_b})")
    return found


def test_the_detector_finds_a_renamed_copy_and_leaves_different_helpers_alone():
    copied = "def plot_terms(history, title):\n    fig = plt.figure()\n    plt.plot(history.steps, history.terms['loss'])\n    plt.title(title)\n"
    renamed = copied.replace("plot_terms", "show_terms")
    other = "def run(k, seed):\n    torch.manual_seed(seed)\n    return fine_tune(model, few_labels(target, k, seed)).final('target test')\n"
    pages = {"a.ipynb": definitions(copied), "b.ipynb": definitions(renamed + other), "c.ipynb": definitions("recipe = dict(steps=600, lr=1e-3)\nFIT = dict(steps=400, lr=1e-3)\n"),
             "d.ipynb": definitions("settings = dict(steps=600, lr=1e-3)\n")}
    assert copies(pages) == ["plot_terms (a.ipynb) ~ show_terms (b.ipynb)", "recipe (c.ipynb) ~ settings (d.ipynb)"]


def test_no_helper_is_defined_in_two_notebooks():
    found = copies(_notebook_definitions())
    assert not found, "helpers copied between notebooks (move them into tlbook): " + "; ".join(found)


def test_results_tables_are_written_by_the_package():
    """One way to write a results table: ``tlbook.experiment.markdown_table`` (or a package function that uses it)."""
    by_hand = []
    for path in sorted((ROOT / "book").rglob("*.ipynb")):
        if path.stem != "exercises":
            cells = nbformat.read(path, as_version=4).cells
            by_hand += [path.name for c in cells if c.cell_type == "code" and "|---" in c.source]
    assert not by_hand, f"Markdown tables written by hand in {sorted(set(by_hand))}: use tlbook.experiment.markdown_table"
