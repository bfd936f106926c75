"""Check the rendered book as a reader gets it: no widget state, MathJax served with the book, no icon
script, no script twice, no solutions.

Usage: python .ci/check_pages.py _build/html      (exit 1 and a list of problems, or a one-line OK)
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

WIDGET = "application/vnd.jupyter.widget"
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
ICON_SCRIPT = re.compile(r"<script[^>]+src=\"[^\"]*fontawesome\.js", re.I)   # 1.5 MB; the theme's CSS draws the icons
REMOTE_MATHJAX = re.compile(r"<script[^>]+src=\"(?:https?:)?//[^\"]*mathjax[^\"]*\"", re.I)
INLINE_SCRIPT = re.compile(r"<script>(.+?)</script>", re.S)   # a second copy of one redeclares its constants


def problems(html: Path) -> list[str]:
    """Every problem of every page under ``html``, one line each."""
    found = []
    local_mathjax = (html / "_static" / "mathjax").is_dir()
    pages = sorted(p for p in html.rglob("*.html") if "_static" not in p.relative_to(html).parts)   # pages, not theme templates
    if not pages:
        return [f"no pages under {html}"]
    for page in pages:
        text = page.read_text(errors="replace")
        name = page.relative_to(html).as_posix()
        if WIDGET in text:
            found.append(f"{name}: carries Jupyter widget state (a tqdm.auto bar?); use text bars")
        for marker in SOLUTION_MARKERS:
            if marker in text:
                found.append(f"{name}: shows {marker!r}; the book publishes student versions only")
        if ICON_SCRIPT.search(text):
            found.append(f"{name}: loads the theme's 1.5 MB icon script (book/_templates/layout.html leaves it out)")
        inline = INLINE_SCRIPT.findall(text)
        if len(inline) != len(set(inline)):
            found.append(f"{name}: includes an inline script twice (the browser reports its constants as redeclared; "
                         "book/_ext/unique_scripts.py keeps one)")
        if local_mathjax and REMOTE_MATHJAX.search(text):
            found.append(f"{name}: loads MathJax from a CDN although the book serves its own copy")
    if not local_mathjax:
        found.append("_static/mathjax is missing: the pages need a CDN for their equations")
    return found


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "_build/html")
    issues = problems(folder)
    for line in issues:
        print("CI:", line, file=sys.stderr)
    if issues:
        sys.exit(1)
    print(f"pages OK: {len(list(folder.rglob('*.html')))} pages, no widget state, MathJax local, no icon script, no script twice, no solutions")
