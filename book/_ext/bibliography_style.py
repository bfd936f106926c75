"""The bibliography lists its entries as the text cites them: by author and year, sorted by author.

The text uses sphinxcontrib-bibtex's author-year references ("Ganin and Lempitsky, 2015"); pybtex's
styles label the list with numbers or with short alphabetic keys. This registers a formatting style,
``author_year``, whose labels are the same author–year text (``bibtex_default_style: author_year``).
"""
from __future__ import annotations

from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as Unsrt
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting.author_year_title import SortingStyle


def _surname(person) -> str:
    return " ".join(person.prelast_names + person.last_names)


def author_year(entry) -> str:
    """"Ganin and Lempitsky, 2015"; three or more authors: "Ganin et al., 2016"."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in people]
    who = names[0] if len(names) == 1 else " and ".join(names) if len(names) == 2 else f"{names[0]} et al." if names else entry.key
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        seen: dict[str, int] = {}
        for entry in sorted_entries:
            label = author_year(entry)
            seen[label] = seen.get(label, 0) + 1
            yield label if seen[label] == 1 else f"{label} ({seen[label]})"


class AuthorYearStyle(Unsrt):
    default_label_style = AuthorYearLabels
    default_sorting_style = SortingStyle


def setup(app):
    register_plugin("pybtex.style.labels", "author_year", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
