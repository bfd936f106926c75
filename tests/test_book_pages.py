"""The check CI runs on the rendered book (.ci/check_pages.py) catches what a reader must not get."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_pages", ROOT / ".ci" / "check_pages.py")
check_pages = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_pages)

CLEAN = '<html><script defer="defer" src="_static/mathjax/tex-chtml.js"></script><p>$x$</p></html>'


def _site(tmp_path: Path, page: str, local_mathjax: bool = True) -> Path:
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "page.html").write_text(page)
    (tmp_path / "index.html").write_text(CLEAN)
    if local_mathjax:
        (tmp_path / "_static" / "mathjax").mkdir(parents=True)
    return tmp_path


def test_a_clean_site_passes(tmp_path):
    assert check_pages.problems(_site(tmp_path, CLEAN)) == []


@pytest.mark.parametrize("page, problem", [
    ('<script type="application/vnd.jupyter.widget-state+json">{}</script>', "widget state"),
    ("<pre>    ### BEGIN SOLUTION\n    return x</pre>", "BEGIN SOLUTION"),
    ("<pre>### BEGIN HIDDEN TESTS</pre>", "HIDDEN TESTS"),
    ('<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>', "CDN"),
    ('<script defer src="../_static/scripts/fontawesome.js?digest=1"></script>', "icon script"),
    ('<script>const THEBE_JS_URL = "x";</script><script>let a = 1;</script><script>const THEBE_JS_URL = "x";</script>', "twice"),
])
def test_each_problem_is_named_with_its_page(tmp_path, page, problem):
    (line,) = check_pages.problems(_site(tmp_path, page))
    assert line.startswith("book/page.html") and problem in line


def test_a_site_without_its_own_mathjax_fails(tmp_path):
    assert any("_static/mathjax is missing" in p for p in check_pages.problems(_site(tmp_path, CLEAN, local_mathjax=False)))


def test_no_notebook_draws_widget_progress_bars():
    """tqdm.auto picks a widget in Jupyter, and the widget's state lands in the rendered page."""
    for path in sorted((ROOT / "book").rglob("*.ipynb")) + sorted((ROOT / "solutions").rglob("*.ipynb")):
        text = path.read_text()
        for widget in ("tqdm.auto", "tqdm.notebook", "tqdm.autonotebook", "import ipywidgets"):
            assert widget not in text, f"{path.relative_to(ROOT)} uses {widget}"
