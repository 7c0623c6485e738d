"""The page's author as trafilatura's ``metadata.extract_author`` finds it, without copying the whole page.

In: a parsed page (the lxml tree ``trafilatura.utils.load_html`` gives). Out: the author, or None: the same string
as ``extract_author(tree)``, which copies the tree, removes from the copy what ``AUTHOR_DISCARD_XPATHS`` match
(comments, dates, figures, sidebars…: each with its tail kept), then takes the first match of ``AUTHOR_XPATHS``, in
their order, whose text is 3 to 119 characters. Here the author XPaths are asked of the page itself; a match is
skipped when it or one of its ancestors is what the copy would have lost (the discard XPaths asked of its
``ancestor-or-self`` axis, a few elements instead of the whole page); a match holding such an element is copied alone
and pruned as ``extract_author`` prunes the page, so its text is the same. When trafilatura's discard XPaths are not
of the form read here (paths from the document down, possibly a union of them), ``extract_author`` itself runs.
``tests/test_page_text.py`` checks the author of each of the 181 real pages against trafilatura's.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from lxml.etree import XPath
from trafilatura.htmlprocessing import prune_unwanted_nodes
from trafilatura.json_metadata import normalize_authors
from trafilatura.metadata import extract_author
from trafilatura.utils import trim
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS, REGEXP_NS

MAX_AUTHOR_CHARS = 120  # extract_author's len_limit


def _split(path: str, sep: str) -> list[str]:
    """``path`` cut at each ``sep`` outside brackets, parentheses and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(path):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif depth == 0 and ch == sep:
            parts.append(path[start:i])
            start = i + 1
    return [*parts, path[start:]]


def _union(path: str) -> list[str] | None:
    """The steps of a union of single-step descendant paths (``//x[...]|.//y[...]``), or None for another form."""
    steps = []
    for part in (p.strip() for p in _split(path, "|")):
        step = part[3:] if part.startswith(".//") else part[2:] if part.startswith("//") else ""
        if not step or step.startswith("/") or len(_split(step, "/")) > 1:
            return None
        steps.append(step)
    return steps


def _on_axis(axis: str) -> XPath | None:
    steps: list[str] = []
    for expression in AUTHOR_DISCARD_XPATHS:
        found = _union(expression.path)
        if found is None:
            return None
        steps += found
    return XPath("|".join(f"{axis}::{step}" for step in steps), namespaces={"re": REGEXP_NS})


_REMOVED_AT_OR_ABOVE, _REMOVED_INSIDE = _on_axis("ancestor-or-self"), _on_axis("descendant")


def page_author(tree: Any) -> str | None:
    """``trafilatura.metadata.extract_author(tree)``, found without copying the tree (see the module's docstring)."""
    if _REMOVED_AT_OR_ABOVE is None or _REMOVED_INSIDE is None:
        return extract_author(tree)
    for expression in AUTHOR_XPATHS:
        for elem in expression(tree):
            if _REMOVED_AT_OR_ABOVE(elem):
                continue  # the copy had lost it
            if _REMOVED_INSIDE(elem):  # the copy had lost part of it: its text as the pruned copy gives it
                elem = prune_unwanted_nodes(deepcopy(elem), AUTHOR_DISCARD_XPATHS)
            content = trim(" ".join(elem.itertext()))
            if content and 2 < len(content) < MAX_AUTHOR_CHARS:
                return normalize_authors(None, content)
    return None
