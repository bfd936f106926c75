"""Each script once per page.

sphinx-thebe (loaded by every Jupyter Book 1 build) registers its configuration script,
``const THEBE_JS_URL = …``, twice under current Sphinx versions; the browser then reports a
redeclared constant on every page. This extension drops a script that a page already includes
(same file, same attributes, same inline body), keeping the first: the two copies differ only in
the file name an inline script has, ``None`` for one and ``""`` for the other.
"""


def _key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    filename = script.filename if hasattr(script, "filename") else str(script)  # an inline script's is None or ""
    return filename or "", tuple(sorted((k, str(v)) for k, v in attributes.items()))


def _unique_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _unique_scripts, priority=999)  # after every handler that adds a script
    return {"parallel_read_safe": True, "parallel_write_safe": True}
