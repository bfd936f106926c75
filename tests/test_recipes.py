"""One declaration per method, computed once.

- A benchmark method's recipe (its constructor options) is declared once, in ``tlbook.benchmark.METHODS``;
  a notebook builds it from there (``METHODS[name].build``, ``recipe_runs``) and never types the options again.
- A configuration the book trains is trained by one page; the others read its stored run (``recipe_runs``).
- ``recipe_runs`` stores a run once, reads it back as it was, and refuses what it cannot store.
"""
import ast
import threading
import time
import warnings
from pathlib import Path

import nbformat
import pytest
import torch

import tlbook.benchmark.run as benchmark_run
import tlbook.benchmark.stored_runs as stored_runs
from tlbook.benchmark import METHODS, recipe_runs
from tlbook.benchmark.stored_runs import run_key, run_path
from tlbook.data import load_pair

ROOT = Path(__file__).resolve().parents[1]
PAIR = "moons->moons-rotated"


def _pages() -> dict[str, str]:
    """Every notebook of the book (exercises re-implement on purpose) as one piece of code."""
    pages = {}
    for path in sorted((ROOT / "book").rglob("*.ipynb")):
        if path.stem != "exercises":
            cells = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
            pages[path.relative_to(ROOT).as_posix()] = "\n".join(
                line for cell in cells for line in cell.splitlines() if not line.lstrip().startswith(("%", "!")))
    return pages


def restated_recipes(code: str) -> list[str]:
    """Constructor calls of a benchmark method that type an option its recipe declares."""
    declared = {entry.method.__name__: set(entry.options) for entry in METHODS.values()}
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in declared:
            typed = {k.arg for k in node.keywords if k.arg is not None} & declared[node.func.id]
            if typed:
                found.append(f"{ast.unparse(node)} types {', '.join(sorted(typed))}")
    return found


def test_the_detector_finds_a_recipe_typed_again():
    assert restated_recipes("m = DDC(net, weight=0.25, schedule=dann_lambda)") == [
        "DDC(net, weight=0.25, schedule=dann_lambda) types schedule, weight"]
    assert restated_recipes("m = DDC(net, **METHODS['ddc'].options)\nd = DANN(small_digit_classifier())") == []


def test_no_notebook_types_a_benchmark_recipe_again():
    offenders = {page: found for page, code in _pages().items() if (found := restated_recipes(code))}
    assert not offenders, f"build these from tlbook.benchmark.METHODS instead: {offenders}"


def _constants(tree: ast.Module) -> dict[str, str]:
    """Names bound to a constant, a ``dict(...)`` or a domain of ``load_pair(constant)``, as text."""
    known: dict[str, str] = {}
    resolve = lambda node: known.get(node.id, node.id) if isinstance(node, ast.Name) else ast.unparse(node)  # noqa: E731
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target, value = node.targets[0], node.value
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
            pairs = list(zip(target.elts, value.elts))
        elif isinstance(target, ast.Tuple) and isinstance(value, ast.Call) and getattr(value.func, "id", "") == "load_pair":
            pair = resolve(value.args[0])
            pairs = [(t, ast.Constant(f"{side} of {pair}")) for t, side in zip(target.elts, ("source", "target"))]
        else:
            pairs = [(target, value)]
        for name, val in pairs:
            if isinstance(name, ast.Name) and (isinstance(val, (ast.Constant, ast.Tuple, ast.List))
                                               or (isinstance(val, ast.Call) and getattr(val.func, "id", "") == "dict")):
                known[name.id] = ast.unparse(val) if not isinstance(val, ast.Constant) else str(val.value)
    return known


def trained_configurations(code: str) -> list[str]:
    """What each ``repeat(make, source, target, seeds, **settings)`` call trains, its names resolved."""
    tree = ast.parse(code)
    known = _constants(tree)
    resolve = lambda node: known.get(node.id, node.id) if isinstance(node, ast.Name) else ast.unparse(node)  # noqa: E731
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "repeat" and len(node.args) >= 3:
            settings = sorted(f"{k.arg}={resolve(k.value)}" if k.arg else resolve(k.value)
                              for k in node.keywords if k.arg not in ("name", "progress_bar", "callback"))
            found.append(" | ".join([ast.unparse(node.args[0]), *map(resolve, node.args[1:]), *settings]))
    return found


def test_the_detector_finds_one_configuration_trained_on_two_pages():
    page = 'P = "a->b"\nsource, target = load_pair(P)\nFIT = dict(steps=5)\nr = repeat(lambda: SourceOnly(net()), source, target, name="x", **FIT)'
    other_pair = page.replace('"a->b"', '"a->c"')
    first, = trained_configurations(page)
    assert first == "lambda: SourceOnly(net()) | source of a->b | target of a->b | dict(steps=5)"
    assert trained_configurations(page.replace('name="x"', 'name="y"')) == [first]  # a label is not a configuration
    assert trained_configurations(other_pair) != [first]


def test_no_configuration_is_trained_by_two_pages():
    seen: dict[str, list[str]] = {}
    for page, code in _pages().items():
        for configuration in trained_configurations(code):
            seen.setdefault(configuration, []).append(page)
    twice = {c: pages for c, pages in seen.items() if len(pages) > 1}
    assert not twice, f"train these once, with recipe_runs (stored and shared): {twice}"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("TLBOOK_DATA", str(tmp_path))
    monkeypatch.setitem(benchmark_run.RECIPES, PAIR, dict(steps=6, batch_size=16))
    trained = []
    real = stored_runs._train
    monkeypatch.setattr(stored_runs, "_train", lambda *a: trained.append(a[0]) or real(*a))
    return trained


def test_a_stored_run_is_read_back_as_it_was_trained(store):
    first = recipe_runs("dann", PAIR, (0, 1), progress_bar=False)
    again = recipe_runs("dann", PAIR, (0, 1), progress_bar=False)
    assert store == ["dann", "dann"]  # two seeds trained once, then read
    assert again.accuracies().tolist() == first.accuracies().tolist()
    for a, b in zip(first.methods, again.methods):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert again.histories[1].terms == first.histories[1].terms


def test_another_option_seed_or_code_is_another_run(store, monkeypatch):
    recipe_runs("dann", PAIR, (0,), progress_bar=False)
    recipe_runs("dann", PAIR, (1,), progress_bar=False)
    recipe_runs("dann", PAIR, (0,), changes=dict(weight=0.5), progress_bar=False)
    monkeypatch.setattr(stored_runs, "_code", lambda: "other code")
    recipe_runs("dann", PAIR, (0,), progress_bar=False)
    assert len(store) == 4
    assert run_path(run_key("dann", PAIR, 0)) != run_path(run_key("dann", PAIR, 0, dict(weight=0.5)))


def test_store_false_trains_and_writes_nothing(store, tmp_path):
    recipe_runs("source-only", PAIR, (0,), store=False, progress_bar=False)
    assert store == ["source-only"] and not (tmp_path / "runs").exists()


def test_a_damaged_run_is_trained_again(store):
    recipe_runs("source-only", PAIR, (0,), progress_bar=False)
    path = run_path(run_key("source-only", PAIR, 0))
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.warns(UserWarning, match="training the run again"):
        recipe_runs("source-only", PAIR, (0,), progress_bar=False)
    assert len(store) == 2


def test_two_callers_at_once_train_the_run_once(store, monkeypatch):
    real = stored_runs._train
    monkeypatch.setattr(stored_runs, "_train", lambda *a: time.sleep(0.5) or real(*a))
    load_pair(PAIR)  # the domains' cache is written first: two threads of one process share a temporary name
    results = []
    threads = [threading.Thread(target=lambda: results.append(recipe_runs("source-only", PAIR, (0,), progress_bar=False)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store == ["source-only"]  # one trained while the other waited on the lock, then read it
    assert results[0].accuracies().tolist() == results[1].accuracies().tolist()


def test_bad_requests_are_refused_before_training(store):
    with pytest.raises(TypeError, match="has no option wieght"):
        recipe_runs("ddc", "synth->handwritten", (0,), changes=dict(wieght=1.0))
    with pytest.raises(ValueError, match="trains a network before it adapts"):
        recipe_runs("sdt", "synth->handwritten", (0,))
    with pytest.raises(KeyError, match="unknown method 'dcc'"):
        recipe_runs("dcc", PAIR, (0,))
    with pytest.raises(ValueError, match="more than once"):
        recipe_runs("dann", PAIR, (0, 0))
    assert store == []


def test_a_recipe_shows_its_constructor_call():
    assert str(METHODS["ddc"]) == "DDC(network, weight=0.25, schedule=dann_lambda)"
    assert str(METHODS["cmd"]).startswith("CMD(network (a sigmoid bottleneck), weight=0.1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert METHODS["target-only"].oracle and not METHODS["sdt"].oracle  # Method.oracle: one place says it


def test_a_benchmark_cell_and_a_page_share_one_run(store):
    from tlbook.benchmark import run_cell

    page = recipe_runs("dann", PAIR, (0,), progress_bar=False)
    cell = run_cell("dann", PAIR, 0)  # the benchmark's cell of the same configuration reads the page's run
    assert store == ["dann"] and cell.target_test == page.accuracies()[0]
    again = run_cell("dann", PAIR, 0, store=False)  # a page that checks a cell trains it again
    assert store == ["dann", "dann"] and again.target_test == cell.target_test


def test_a_key_names_what_decides_the_run_and_refuses_what_has_no_name():
    import numpy as np

    from tlbook.schedules import dann_lambda

    assert run_key("ddc", PAIR, 0, dict(weight=0.25, schedule=dann_lambda)) == run_key("ddc", PAIR, 0)  # the recipe's own
    assert run_key("ddc", PAIR, 0, dict(weight=np.float64(0.5))) == run_key("ddc", PAIR, 0, dict(weight=0.5))
    for nameless in (lambda p: 1.0, torch.nn.Linear(2, 2)):
        with pytest.raises(TypeError, match="named module-level function"):
            run_key("ddc", PAIR, 0, dict(schedule=nameless))


def test_an_option_the_class_fixes_itself_is_refused_clearly():
    source, _ = load_pair("synth->handwritten")
    with pytest.raises(TypeError, match=r"DDC cannot take these options \['layers'\]"):
        METHODS["ddc"].build(source, layers=["fc1"])
